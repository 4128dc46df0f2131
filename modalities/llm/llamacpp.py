"""The default LLM backend: llama.cpp in-process through ``xllamacpp``.

``xllamacpp`` wraps llama.cpp's own server: requests are OpenAI-style chat dicts handled in
process (no HTTP round trip), streamed through a callback. The wrapped server always opens an HTTP
listener too; for in-process use it is bound to a Unix socket in a private temporary directory
(mode 0700) and protected by a random API key, so no TCP port is opened (on Windows it falls back
to 127.0.0.1 with a random port and the same key). :func:`serve_gguf` opens a real
OpenAI-compatible HTTP endpoint instead, for the ``openai`` backend, benchmarks and tests; run
``python -m modalities.llm.llamacpp --serve`` to get one as a separate process.

llama.cpp's own logging is silenced (``CommonParams.verbosity = -1``); pass ``verbose=True`` to
see it. Attune's log lines name sizes and timings only.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from attune.bridge import Bridge, BridgeTimeout
from attune.errors import ModelNotFoundError
from attune.types import ChatMessage, GenerationParams
from modalities.llm.base import LLM, GenerationError, LLMCapabilities
from modalities.llm.models import (
    adapter_file,
    chat_request,
    default_threads,
    resolve_device,
    resolve_gguf_path,
    safe_server_message,
)

if TYPE_CHECKING:
    from attune.settings import AttuneSettings

log = logging.getLogger(__name__)

DeviceName = Literal["auto", "cpu", "cuda"]

#: ``n_gpu_layers`` meaning "every layer" (llama.cpp clamps it to the model's layer count).
ALL_LAYERS = 999
#: llama.cpp reads this seed as "pick a random one".
_RANDOM_SEED = 0xFFFFFFFF
#: How long ``close()`` waits for generation threads to wind down.
_JOIN_TIMEOUT_S = 10.0
#: How long an abandoned stream waits for its thread: cancellation takes effect at the next token
#: (milliseconds); if the prompt is still being read, the thread finishes in the background and
#: later calls queue behind it in llama.cpp.
_ABANDON_JOIN_S = 2.0


def _common_params(
    model: Path,
    *,
    context_size: int,
    threads: int,
    gpu_layers: int,
    parallel: int,
    verbose: bool,
    adapter: Path | None = None,
) -> Any:
    """``xllamacpp.CommonParams`` for one model (and LoRA adapter); the listener is set by the
    caller."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    if adapter is not None:
        params.lora_adapters = [xllamacpp.CommonAdapterLoraInfo(str(adapter), 1.0)]
    params.n_ctx = context_size
    params.n_parallel = parallel
    # Slots share the whole context pool, so one long conversation may use all of it.
    params.kv_unified = True
    params.n_gpu_layers = gpu_layers
    for cpu in (params.cpuparams, params.cpuparams_batch):
        cpu.n_threads = threads
        # Sleep rather than spin between ops: Attune shares the CPU with its perception models,
        # and spinning llama.cpp threads slow down by 10-100x when cores are oversubscribed.
        cpu.poll = 0
    params.verbosity = 3 if verbose else -1  # -1: llama.cpp prints nothing at all
    params.offline = True  # never try to download anything
    params.ui = False  # no web UI: only the API
    params.n_threads_http = 2
    params.cache_ram_mib = 256  # host-memory prompt cache (llama.cpp's default is 8 GiB)
    return params


def _seed(seed: int) -> int:
    # llama.cpp seeds are uint32 and 0xFFFFFFFF means "random": fold into the valid range.
    return seed % _RANDOM_SEED


def _request(messages: Sequence[ChatMessage], params: GenerationParams) -> dict[str, Any]:
    """The OpenAI-style chat request for llama.cpp's server (streaming)."""
    seed = _seed(params.seed) if params.seed is not None else None
    request = chat_request(messages, params, seed)
    if params.json_schema is not None:
        request["json_schema"] = params.json_schema
    if params.ignore_eos:
        request["ignore_eos"] = True
    if params.repeat_penalty > 0:
        request["dry_multiplier"] = params.repeat_penalty
    return request


def _server_error(error: Any, contents: Sequence[str]) -> GenerationError:
    """A :class:`GenerationError` for an ``{"error": ...}`` answer of llama.cpp's server."""
    if not isinstance(error, dict):
        return GenerationError(f"llama.cpp returned an error ({type(error).__name__})")
    kind = str(error.get("type", "error"))
    status = error.get("code", "?")
    if kind == "exceed_context_size_error":
        return GenerationError(
            f"the prompt ({error.get('n_prompt_tokens', '?')} tokens) does not fit the LLM "
            f"context ({error.get('n_ctx', '?')} tokens): shorten the history "
            "(chat.history_messages) or raise llm.context_size",
            code="context_overflow",
        )
    message = safe_server_message(str(error.get("message", "")), contents)
    return GenerationError(f"llama.cpp refused the request ({status} {kind}): {message}")


@dataclass(eq=False)
class _Generation:
    """One streamed call in flight: its worker thread and how to stop it."""

    worker: threading.Thread | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    closed_by_owner: bool = False


class LlamaCppLLM(LLM):
    """A GGUF chat model run by llama.cpp in this process (the default ``llm`` backend).

    Loads lazily (thread-safe) on :meth:`load` or the first call; :meth:`close` stops the server
    and frees the model. :meth:`stream` yields text as llama.cpp samples it (about one token per
    piece); stopping the iteration early (``close()`` on the generator, ``break``) cancels the
    generation in llama.cpp. Honours ``max_tokens``, ``temperature``, ``top_p``, ``stop``,
    ``seed`` and ``json_schema`` (grammar-constrained decoding).

    On ``cuda`` (``device="cuda"``, or ``auto`` with CUDA present) every layer is offloaded
    (``n_gpu_layers``); that needs a CUDA build of xllamacpp (the PyPI wheels are CPU builds, on
    which the setting has no effect). ``parallel`` > 1 lets that many calls decode concurrently
    in one batch (useful when candidate replies are generated from several threads).
    """

    name = "llamacpp"
    capabilities = LLMCapabilities(json_schema=True, seeded=True, continues=True)

    def __init__(
        self,
        model_path: Path | str | None = None,
        *,
        context_size: int = 2048,
        threads: int | None = None,
        device: DeviceName = "auto",
        parallel: int = 1,
        timeout_s: float = 60.0,
        verbose: bool = False,
        adapter: Path | str | None = None,
    ) -> None:
        """Remember the configuration; nothing is loaded yet.

        ``model_path`` is a GGUF file (``None``: the bundled SmolLM2-135M-Instruct).
        ``adapter`` is a LoRA adapter GGUF for that model, applied at full scale (the shipped
        reply adapter: :data:`~modalities.llm.models.ADAPTER_PATH`).
        ``timeout_s`` bounds the wait for each piece of output (the first includes the prompt).
        """
        if parallel < 1:
            raise ValueError("parallel must be >= 1")
        self.model_path = Path(model_path) if model_path is not None else None
        self.context_size = context_size
        self.threads = threads or default_threads()
        self.device: DeviceName = device
        self.parallel = parallel
        self.timeout_s = timeout_s
        self.verbose = verbose
        self.adapter = Path(adapter) if adapter is not None else None
        if self.adapter is not None and not self.adapter.is_file():
            raise ModelNotFoundError(f"LoRA adapter not found: {self.adapter}")
        self._server: Any = None
        self._socket_dir: str | None = None
        self._active: set[_Generation] = set()
        self._active_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> LlamaCppLLM:
        """From ``settings.llm`` (model_path, context_size, threads, timeout_s) and ``device``."""
        options: dict[str, Any] = {
            "model_path": settings.llm.model_path,
            "context_size": settings.llm.context_size,
            "threads": settings.llm.threads,
            "device": settings.device,
            "timeout_s": settings.llm.timeout_s,
            "adapter": adapter_file(settings.llm),
        }
        options.update(kwargs)
        return cls(**options)

    @property
    def reply_prompt(self) -> str:  # type: ignore[override]  # a property over the class default
        """``tuned`` with the reply adapter loaded (its own prompt format), else ``instruct``."""
        return "tuned" if self.adapter is not None else "instruct"

    def _load(self) -> None:
        self._server = self._start()

    def _ensure_server(self) -> Any:
        self.load()
        return self._server

    def _start(self) -> Any:
        path = resolve_gguf_path(self.model_path)
        import xllamacpp

        device = resolve_device(self.device)
        params = _common_params(
            path,
            context_size=self.context_size,
            threads=self.threads,
            gpu_layers=ALL_LAYERS if device == "cuda" else 0,
            parallel=self.parallel,
            verbose=self.verbose,
            adapter=self.adapter,
        )
        # The wrapped server always listens; keep it off the network (see the module docstring).
        params.api_keys = [secrets.token_urlsafe(24)]
        socket_dir: str | None = None
        if os.name == "nt":
            params.hostnames = ["127.0.0.1"]
            params.port = 0
        else:
            socket_dir = tempfile.mkdtemp(prefix="attune-llm-")
            params.hostnames = [str(Path(socket_dir) / "llama.sock")]
        started = time.perf_counter()
        try:
            server = xllamacpp.Server(params)
        except Exception as exc:
            if socket_dir is not None:
                shutil.rmtree(socket_dir, ignore_errors=True)
            raise ModelNotFoundError(
                f"llama.cpp could not load {path} ({type(exc).__name__}): not a valid GGUF model, "
                f"or not enough memory for context_size={self.context_size}"
            ) from exc
        self._socket_dir = socket_dir
        if socket_dir is not None:  # also removed if the owner never calls close()
            weakref.finalize(self, shutil.rmtree, socket_dir, True)
        seconds = time.perf_counter() - started  # Loadable keeps load_seconds
        log.info(
            "llama.cpp loaded %s%s in %.2f s (device=%s, threads=%d, n_ctx=%d, parallel=%d)",
            path.name,
            f" + {self.adapter.name}" if self.adapter is not None else "",
            seconds,
            device,
            self.threads,
            self.context_size,
            self.parallel,
        )
        return server

    def close(self) -> None:
        """Cancel calls in flight, stop the server and free the model (idempotent)."""
        with self._lifecycle_lock():
            server, self._server = self._server, None
            socket_dir, self._socket_dir = self._socket_dir, None
            self._forget_load()
        with self._active_lock:
            active = list(self._active)
        for generation in active:
            generation.closed_by_owner = True
            generation.cancel.set()
        deadline = time.monotonic() + _JOIN_TIMEOUT_S
        for generation in active:
            if generation.worker is not None:
                generation.worker.join(timeout=max(0.0, deadline - time.monotonic()))
        # Workers still running hold their own reference; the server stops when the last goes.
        del server
        if socket_dir is not None:
            shutil.rmtree(socket_dir, ignore_errors=True)

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Iterator[str]:
        """Yield the reply as llama.cpp generates it.

        Loads the model first if needed (so a missing model raises here, not on iteration).
        Closing the returned generator early cancels the generation.
        """
        server = self._ensure_server()
        request = _request(messages, params)
        return self._pieces(server, request, [m.content for m in messages])

    def _pieces(self, server: Any, request: dict[str, Any], contents: list[str]) -> Iterator[str]:
        bridge: Bridge[Any] = Bridge()
        generation = _Generation()
        cancel = generation.cancel

        def produce(out: Bridge[Any]) -> None:
            def on_chunk(chunk: Any) -> bool:
                # Runs on the worker thread, inside llama.cpp; returning True stops it.
                if cancel.is_set():
                    return True
                out.put(chunk)
                return cancel.is_set()

            try:
                server.handle_chat_completions(request, on_chunk)
            except Exception as exc:
                raise GenerationError(
                    f"llama.cpp failed ({type(exc).__name__}): "
                    f"{safe_server_message(str(exc), contents)}"
                ) from exc

        with self._active_lock:
            self._active.add(generation)
        started = time.perf_counter()
        first_piece_s: float | None = None
        pieces = 0
        timings: dict[str, Any] = {}
        generation.worker = bridge.start_thread(produce, name="attune-llamacpp")
        try:
            try:
                for value in bridge.items(timeout=self.timeout_s):
                    if not isinstance(value, dict):
                        continue
                    if "error" in value:
                        raise _server_error(value["error"], contents)
                    timings = value.get("timings") or timings
                    for choice in value.get("choices") or ():
                        text = (choice.get("delta") or {}).get("content")
                        if text:
                            if first_piece_s is None:
                                first_piece_s = time.perf_counter() - started
                            pieces += 1
                            yield text
            except BridgeTimeout:
                raise GenerationError(
                    f"llama.cpp produced no output for {self.timeout_s:g} s "
                    "(raise llm.timeout_s on a slow or busy machine)",
                    code="timeout",
                ) from None
            if generation.closed_by_owner:
                raise GenerationError("the LLM was closed during generation", code="closed")
            log.debug(
                "llama.cpp: %s prompt tokens, %s generated in %.2f s (first piece %.2f s, "
                "%.1f tok/s)",
                timings.get("prompt_n", "?"),
                timings.get("predicted_n", pieces),
                time.perf_counter() - started,
                first_piece_s or 0.0,
                timings.get("predicted_per_second", 0.0),
            )
        finally:
            cancel.set()  # a consumer that stopped early ends the generation in llama.cpp
            generation.worker.join(timeout=_ABANDON_JOIN_S)
            with self._active_lock:
                self._active.discard(generation)


# --- an OpenAI-compatible HTTP server over the same runtime -----------------------------------


class LlamaServer:
    """A running llama.cpp HTTP server (OpenAI-compatible) serving one GGUF model.

    ``base_url`` is what an OpenAI client takes (``http://HOST:PORT/v1``). Stop it with
    :meth:`close` or by leaving a ``with`` block; it also stops when garbage collected.
    """

    def __init__(self, server: Any, address: str) -> None:
        """Wrap an ``xllamacpp.Server``; use :func:`serve_gguf` to make one."""
        self._server: Any = server
        self.address = address.rstrip("/")
        self.base_url = f"{self.address}/v1"

    def close(self) -> None:
        """Stop listening and free the model (idempotent)."""
        self._server = None

    def __enter__(self) -> LlamaServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def serve_gguf(
    path: Path | str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    threads: int | None = None,
    context_size: int = 2048,
    parallel: int = 1,
    api_key: str | None = None,
    device: DeviceName = "auto",
    verbose: bool = False,
) -> tuple[LlamaServer, str]:
    """Serve a GGUF model over OpenAI-compatible HTTP; returns ``(server, base_url)``.

    ``path=None`` serves the bundled model; ``port=0`` picks a free port. Without ``api_key``
    anyone who can reach ``host`` may use it: keep the default loopback host unless you set one.
    Keep the returned server referenced: it stops when closed or garbage collected.
    """
    model = resolve_gguf_path(path)
    import xllamacpp

    params = _common_params(
        model,
        context_size=context_size,
        threads=threads or default_threads(),
        gpu_layers=ALL_LAYERS if resolve_device(device) == "cuda" else 0,
        parallel=parallel,
        verbose=verbose,
    )
    params.hostnames = [host]
    params.port = port
    if api_key:
        params.api_keys = [api_key]
    try:
        server = xllamacpp.Server(params)
    except Exception as exc:
        raise ModelNotFoundError(
            f"llama.cpp could not serve {model} on {host}:{port} ({type(exc).__name__}): "
            "not a valid GGUF model, or the address is in use"
        ) from exc
    handle = LlamaServer(server, str(server.listening_address))
    log.info("llama.cpp serving %s at %s", model.name, handle.base_url)
    return handle, handle.base_url


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m modalities.llm.llamacpp --serve``: print the base URL, serve until stopped."""
    parser = argparse.ArgumentParser(
        prog="python -m modalities.llm.llamacpp",
        description="Serve a GGUF model (default: the bundled one) over OpenAI-compatible HTTP. "
        "Prints the base URL as the first line of stdout, then serves until SIGINT/SIGTERM.",
    )
    parser.add_argument("--serve", action="store_true", required=True, help="start the server")
    parser.add_argument("--model", type=Path, default=None, help="GGUF file (default: bundled)")
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default loopback)")
    parser.add_argument("--port", type=int, default=0, help="port (0: any free port)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--context-size", type=int, default=2048)
    parser.add_argument("--parallel", type=int, default=1, help="concurrent request slots")
    parser.add_argument(
        "--api-key-env", default=None, help="name of an environment variable holding the API key"
    )
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="also stop when stdin closes (so the server dies with the process that started it)",
    )
    parser.add_argument("--verbose", action="store_true", help="show llama.cpp's own logs")
    args = parser.parse_args(argv)

    api_key = os.environ.get(args.api_key_env) if args.api_key_env else None
    if args.api_key_env and not api_key:
        parser.error(f"environment variable {args.api_key_env} is not set")
    try:
        server, base_url = serve_gguf(
            args.model,
            host=args.host,
            port=args.port,
            threads=args.threads,
            context_size=args.context_size,
            parallel=args.parallel,
            api_key=api_key,
            verbose=args.verbose,
        )
    except ModelNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if args.exit_on_stdin_eof:

        def watch_stdin() -> None:
            while sys.stdin.read(4096):
                pass
            stop.set()

        threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()
    if args.host not in ("127.0.0.1", "localhost", "::1") and not api_key:
        print(f"warning: serving on {args.host} without an API key", file=sys.stderr)
    print(base_url, flush=True)
    while not stop.wait(0.5):
        pass
    server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
