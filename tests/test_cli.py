"""The ``attune`` command, run as a person or a script would, with the real default models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ATTUNE = [sys.executable, "-m", "attune.cli"]


def run(args: list[str], stdin: bytes = b"", env: dict[str, str] | None = None, timeout=300):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        ATTUNE + args, input=stdin, capture_output=True, timeout=timeout, env=full_env
    )


def json_lines(stdout: bytes) -> list[dict]:
    return [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]


@pytest.mark.slow
def test_chat_json_turns_bad_input_and_resume(tmp_path: Path):
    env = {"ATTUNE_PATHS__STATE_DIR": str(tmp_path)}
    stdin = (
        b"My dog died yesterday.\n"
        b"\xff\xfe not utf-8\n"
        b"\n" + b"x" * 100_000 + b"\n"
        b"I keep thinking about him.\n"
    )
    proc = run(["chat", "--json", "--session", "cli-test"], stdin, env)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    out = json_lines(proc.stdout)
    assert [("error" in o) for o in out] == [False, True, True, True, False]
    assert [o["error"]["code"] for o in out if "error" in o] == [
        "bad_encoding",
        "empty_text",
        "text_too_long",
    ]
    first = out[0]
    assert first["session_id"] == "cli-test" and first["reply"]
    assert {"sadness", "grief"} & set(first["text_emotion"]["labels"])
    assert first["strategy"]["strategy"] and set(first["appraisal"]["sources"]) == {
        "event",
        "emotion",
        "cause",
        "goal",
    }
    # nothing the person typed reaches the logs (stderr)
    assert b"dog" not in proc.stderr and b"thinking" not in proc.stderr

    # a new process resumes the same session from the store
    proc2 = run(["chat", "--json", "--session", "cli-test"], b"Thank you.\n", env)
    assert proc2.returncode == 0
    assert len(json_lines(proc2.stdout)) == 1
    assert (tmp_path / "sessions.sqlite").is_file()


@pytest.mark.slow
def test_chat_human_mode_shows_the_explanation(tmp_path: Path):
    proc = run(
        ["chat"], b"I got the job I wanted!\n/quit\n", {"ATTUNE_PATHS__STATE_DIR": str(tmp_path)}
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    text = proc.stdout.decode()
    assert "attune> " in text
    assert "emotion:" in text and "strategy:" in text and "appraisal:" in text


def test_unknown_backend_is_a_clear_error(tmp_path: Path):
    proc = run(
        ["chat", "--json"],
        b"hi\n",
        {"ATTUNE_BACKENDS__LLM": "nope", "ATTUNE_PATHS__STATE_DIR": str(tmp_path)},
    )
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert "unknown llm backend 'nope'" in err and "llamacpp" in err
    assert "Traceback" not in err


def test_missing_model_file_is_a_clear_error(tmp_path: Path):
    missing = tmp_path / "nowhere.gguf"
    proc = run(
        ["chat", "--json"],
        b"hi\n",
        {"ATTUNE_LLM__MODEL_PATH": str(missing), "ATTUNE_PATHS__STATE_DIR": str(tmp_path)},
    )
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert str(missing) in err and "Traceback" not in err


def test_bad_setting_is_a_clear_error(tmp_path: Path):
    proc = run(["backends"], env={"ATTUNE_LLM__CANDIDATES": "zero"})
    assert proc.returncode == 2 and "candidates" in proc.stderr.decode()
    assert "Traceback" not in proc.stderr.decode()


def test_backends_lists_the_registry():
    proc = run(["backends"])
    assert proc.returncode == 0
    out = proc.stdout.decode()
    for name in ("minilm", "goemotions-head", "transformers", "llamacpp", "openai", "prior"):
        assert name in out


def test_eval_on_missing_file_is_a_clear_error(tmp_path: Path):
    proc = run(["eval", "emotion", "--data", str(tmp_path / "none.tsv")])
    assert proc.returncode == 2 and "not found" in proc.stderr.decode()
