"""Error codes are one enum (:class:`attune.errors.ErrorCode`): every code the source raises is
in it, nothing else is accepted, and the protocol's JSON Schema carries it to the web pages."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from attune.errors import ErrorCode, InputError
from server.protocol import USER_TEXT, ErrorMessage, ProtocolError, protocol_schema

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("attune", "agent", "modalities", "strategies", "server")
#: Calls whose first argument (or ``code=``) is an error code.
CODE_CALLS = {"InputError", "ProtocolError", "error", "_warn"}


def literal_codes() -> dict[str, str]:
    """Every string literal passed as an error code in the source, with where it is."""
    found: dict[str, str] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                args = [*node.args[:1], *(k.value for k in node.keywords if k.arg == "code")]
                if name == "GenerationError":
                    args = [k.value for k in node.keywords if k.arg == "code"]
                elif name not in CODE_CALLS:
                    continue
                for arg in args:
                    value = arg.value if isinstance(arg, ast.Constant) else None
                    # logger.error("... %s") and the like are messages, not codes
                    if isinstance(value, str) and value.isidentifier() and value.islower():
                        found.setdefault(value, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_code_in_the_source_is_in_the_enum() -> None:
    codes = literal_codes()
    assert len(codes) >= 50  # the scan finds them
    unknown = {code: where for code, where in codes.items() if code not in set(ErrorCode)}
    assert not unknown, f"add these to attune.errors.ErrorCode: {unknown}"


def test_a_code_outside_the_enum_is_refused() -> None:
    assert InputError("empty_text", "x").code is ErrorCode.EMPTY_TEXT
    with pytest.raises(ValueError, match="ErrorCode"):
        InputError("no_such_code", "x")
    with pytest.raises(ValueError, match="ErrorCode"):
        ProtocolError("no_such_code", "x")


def test_the_wire_message_is_typed_by_the_enum_and_stays_a_string() -> None:
    message = ErrorMessage(seq=1, code=ErrorCode.QUEUE_FULL, message="m", recoverable=True)
    assert json.loads(message.model_dump_json())["code"] == "queue_full"
    with pytest.raises(ValueError):
        ErrorMessage(seq=1, code="no_such_code", message="m", recoverable=True)  # type: ignore[arg-type]


def test_the_schema_carries_the_codes_and_the_pages_words_for_them() -> None:
    definition = protocol_schema()["$defs"]["ErrorCode"]
    assert set(definition["enum"]) == {c.value for c in ErrorCode}
    assert definition["x-user-text"] == {c.value: t for c, t in USER_TEXT.items()}
    assert set(USER_TEXT) <= set(ErrorCode)


def test_the_pages_copy_no_code() -> None:
    chat = (ROOT / "server" / "static" / "js" / "chat.js").read_text("utf-8")
    assert "protocol.schema.json" in chat
    for code, text in USER_TEXT.items():
        if text:
            assert text not in chat, f"chat.js copies the words for {code}"
