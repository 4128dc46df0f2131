"""The ``transformers`` LLM backend: any local causal LM, on the GPU when there is one.

Loads ``AutoModelForCausalLM`` and its tokenizer from a local model directory, or from a GGUF file
(dequantised to floating point by transformers; needs the ``gguf`` and ``accelerate`` packages:
``pip install 'attune[gguf]'``). Nothing is downloaded: ``local_files_only=True`` always.
The default model is the bundled SmolLM2-135M-Instruct GGUF.

On CUDA the weights are bf16 (fp16 where bf16 is unsupported); on CPU fp32. Text streams through
``TextIteratorStreamer`` from a generation thread: pieces come word by word, as decoded.
Stop strings are applied to the decoded text (nothing after a stop string is yielded, and the
generation is cancelled at the next token).

``settings.llm.threads``, when set, is applied with ``torch.set_num_threads``; torch has one
intra-op pool per process, so that also sets it for every other torch model in the process.
Left unset, torch's default (all cores) stays. On small, busy machines fewer threads are much
faster: on 2 shared cores, 1 thread gave 7-9 tokens/s where 2 gave 0.3-1.3.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from attune.errors import BackendUnavailableError, ModelNotFoundError
from attune.types import ChatMessage, GenerationParams
from modalities.llm.base import LLM, GenerationError, LLMCapabilities
from modalities.llm.models import resolve_device, resolve_model_source, safe_server_message

if TYPE_CHECKING:
    from attune.settings import AttuneSettings

log = logging.getLogger(__name__)

DeviceName = Literal["auto", "cpu", "cuda"]

#: How long an abandoned stream or ``close()`` waits for the generation thread to stop.
_JOIN_TIMEOUT_S = 10.0


class StopScanner:
    """Cuts a stream of text at the first of several stop strings.

    :meth:`feed` returns the text that is safe to emit now: it holds back a tail that could be the
    start of a stop string until the next piece shows whether it is one.
    """

    def __init__(self, stops: Sequence[str]) -> None:
        """Scan for ``stops`` (empty strings are ignored)."""
        self.stops = [s for s in stops if s]
        self._held = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        """Add ``text``; return what may be emitted. Sets :attr:`stopped` at a stop string."""
        if self.stopped:
            return ""
        buffer = self._held + text
        if not self.stops:
            return buffer
        cut = min((i for i in (buffer.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            self._held = ""
            return buffer[:cut]
        keep = 0
        for stop in self.stops:
            for k in range(min(len(stop) - 1, len(buffer)), keep, -1):
                if buffer.endswith(stop[:k]):
                    keep = k
                    break
        self._held = buffer[len(buffer) - keep :] if keep else ""
        return buffer[: len(buffer) - keep]

    def flush(self) -> str:
        """The held-back tail, at the end of the stream."""
        held, self._held = self._held, ""
        return "" if self.stopped else held


def _fallback_prompt(messages: Sequence[ChatMessage]) -> str:
    """A plain prompt for tokenizers that carry no chat template."""
    lines = [f"{m.role.capitalize()}: {m.content}" for m in messages]
    return "\n".join([*lines, "Assistant:"])


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """Silence transformers' progress bars (GGUF dequantisation, weight loading) for a load."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    gguf_utils: Any = None
    original_tqdm: Any = None
    try:
        import transformers.modeling_gguf_pytorch_utils as gguf_utils

        original_tqdm = getattr(gguf_utils, "tqdm", None)
    except ImportError:
        gguf_utils = None
    if original_tqdm is not None:
        # This module calls tqdm directly, ignoring the switch above.
        def silent_tqdm(*args: Any, **kwargs: Any) -> Any:
            kwargs["disable"] = True
            return original_tqdm(*args, **kwargs)

        gguf_utils.tqdm = silent_tqdm
    try:
        yield
    finally:
        if original_tqdm is not None:
            gguf_utils.tqdm = original_tqdm
        if was_enabled:
            hf_logging.enable_progress_bar()


class TransformersLLM(LLM):
    """A transformers causal LM from a local directory or GGUF file (``llm`` backend).

    ``model_path`` is a model directory (with ``config.json``) or a ``.gguf`` file; ``None`` means
    the bundled SmolLM2-135M-Instruct GGUF (load ~15 s and ~1.2 GB RAM on CPU: it is dequantised
    to fp32). Uses the tokenizer's chat template. Honours ``max_tokens``, ``temperature``
    (0 = greedy), ``top_p``, ``stop`` and ``seed`` (with a private RNG state per call); not
    ``json_schema`` (no constrained decoding).
    """

    name = "transformers"
    capabilities = LLMCapabilities(json_schema=False, seeded=True)

    def __init__(
        self,
        model_path: Path | str | None = None,
        *,
        device: DeviceName = "auto",
        context_size: int = 2048,
        threads: int | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        """Remember the configuration; nothing is loaded yet.

        ``context_size`` caps prompt plus reply (also capped by the model's own maximum);
        ``threads`` (process-wide, see the module docstring) is applied on load when given;
        ``timeout_s`` bounds the wait for each piece of output.
        """
        self.model_path = Path(model_path) if model_path is not None else None
        self.threads = threads
        self.device: DeviceName = device
        self.context_size = context_size
        self.timeout_s = timeout_s
        self._generate_lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None
        self._device: str = "cpu"
        self._max_context = context_size
        self._active: set[threading.Event] = set()
        self._active_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> TransformersLLM:
        """From ``settings.llm`` (model_path, context_size, threads, timeout_s) and ``device``."""
        options: dict[str, Any] = {
            "model_path": settings.llm.model_path,
            "device": settings.device,
            "context_size": settings.llm.context_size,
            "threads": settings.llm.threads,
            "timeout_s": settings.llm.timeout_s,
        }
        options.update(kwargs)
        return cls(**options)

    def _load(self) -> None:
        directory, gguf_file = resolve_model_source(self.model_path)
        if gguf_file is not None:
            missing = [m for m in ("gguf", "accelerate") if importlib.util.find_spec(m) is None]
            if missing:
                raise BackendUnavailableError(
                    f"loading a GGUF file with transformers needs {', '.join(missing)}: "
                    "pip install 'attune[gguf]'"
                )
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if self.threads is not None:
            torch.set_num_threads(self.threads)
        device = resolve_device(self.device)
        if device == "cuda" and not torch.cuda.is_available():
            raise BackendUnavailableError("device 'cuda' was asked for, but torch sees no CUDA GPU")
        if device == "cuda":
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:
            dtype = torch.float32
        source = f"{directory}/{gguf_file}" if gguf_file else str(directory)
        started = time.perf_counter()
        extra: dict[str, Any] = {"gguf_file": gguf_file} if gguf_file else {}
        try:
            with _quiet_loading():
                tokenizer: Any = AutoTokenizer.from_pretrained(
                    str(directory), local_files_only=True, **extra
                )
                model: Any = AutoModelForCausalLM.from_pretrained(
                    str(directory), local_files_only=True, dtype=dtype, **extra
                )
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ModelNotFoundError(
                f"transformers could not load an LLM from {source} ({type(exc).__name__}): "
                "not a complete causal-LM directory or a supported GGUF file"
            ) from exc
        model.to(device)
        model.eval()
        self._max_context = min(
            self.context_size,
            int(getattr(model.config, "max_position_embeddings", 0) or self.context_size),
        )
        self._tokenizer, self._model, self._device = tokenizer, model, device
        seconds = time.perf_counter() - started  # Loadable keeps load_seconds
        log.info(
            "transformers loaded %s in %.1f s (device=%s, dtype=%s)",
            Path(source).name,
            seconds,
            device,
            str(dtype).removeprefix("torch."),
        )

    def close(self) -> None:
        """Cancel calls in flight and free the model (idempotent)."""
        with self._active_lock:
            active = list(self._active)
        for cancel in active:
            cancel.set()
        acquired = self._generate_lock.acquire(timeout=_JOIN_TIMEOUT_S)
        try:
            with self._lifecycle_lock():
                model, self._model, self._tokenizer = self._model, None, None
                self._forget_load()
        finally:
            if acquired:
                self._generate_lock.release()
        if model is not None and self._device == "cuda":
            del model
            import torch

            torch.cuda.empty_cache()

    def _encode(self, messages: Sequence[ChatMessage]) -> Any:
        tokenizer = self._tokenizer
        chat = [{"role": m.role, "content": m.content} for m in messages]
        if getattr(tokenizer, "chat_template", None):
            encoded = tokenizer.apply_chat_template(
                chat, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
        else:
            encoded = tokenizer(_fallback_prompt(messages), return_tensors="pt")
        return {k: v.to(self._device) for k, v in encoded.items()}

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Iterator[str]:
        """Yield the reply as it is generated (loads the model first if needed).

        Closing the returned generator early cancels the generation at the next token.
        """
        self.load()
        model, tokenizer = self._model, self._tokenizer
        if model is None:
            raise GenerationError("the LLM was closed", code="closed")
        inputs = self._encode(messages)
        n_prompt = int(inputs["input_ids"].shape[-1])
        if n_prompt >= self._max_context:
            raise GenerationError(
                f"the prompt ({n_prompt} tokens) does not fit the LLM context "
                f"({self._max_context} tokens): shorten the history (chat.history_messages) "
                "or raise llm.context_size",
                code="context_overflow",
            )
        max_new = min(params.max_tokens, self._max_context - n_prompt)
        return self._pieces(model, tokenizer, inputs, max_new, params, messages)

    def _pieces(
        self,
        model: Any,
        tokenizer: Any,
        inputs: dict[str, Any],
        max_new_tokens: int,
        params: GenerationParams,
        messages: Sequence[ChatMessage],
    ) -> Iterator[str]:
        import queue

        import torch
        from transformers import (
            GenerationConfig,
            StoppingCriteria,
            StoppingCriteriaList,
            TextIteratorStreamer,
        )

        cancel = threading.Event()

        class Cancelled(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full(
                    (input_ids.shape[0],),
                    cancel.is_set(),
                    dtype=torch.bool,
                    device=input_ids.device,
                )

        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else None
        eos = model.generation_config.eos_token_id or tokenizer.eos_token_id
        sampling = params.temperature > 0
        config = GenerationConfig(
            max_new_tokens=max_new_tokens,
            do_sample=sampling,
            temperature=params.temperature if sampling else None,
            top_p=params.top_p if sampling else None,
            eos_token_id=eos,
            pad_token_id=pad if pad is not None else eos,
        )
        streamer = TextIteratorStreamer(
            tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=self.timeout_s
        )
        failure: list[BaseException] = []
        devices = [torch.device(self._device).index or 0] if self._device == "cuda" else []

        def work() -> None:
            ended = False  # generate() ends the streamer itself when it returns normally
            try:
                if not self._generate_lock.acquire(timeout=self.timeout_s):
                    raise TimeoutError("the model stayed busy with another call")
                try:
                    if cancel.is_set():
                        return
                    with torch.random.fork_rng(devices=devices), torch.inference_mode():
                        if params.seed is not None:
                            torch.manual_seed(params.seed)
                        model.generate(
                            **inputs,
                            generation_config=config,
                            streamer=streamer,
                            stopping_criteria=StoppingCriteriaList([Cancelled()]),
                        )
                    ended = True
                finally:
                    self._generate_lock.release()
            except Exception as exc:  # handed to the consumer
                failure.append(exc)
            finally:
                if not ended:
                    streamer.end()  # wakes the consumer

        worker = threading.Thread(target=work, name="attune-transformers", daemon=True)
        scanner = StopScanner(params.stop)
        with self._active_lock:
            self._active.add(cancel)
        started = time.perf_counter()
        pieces = 0
        worker.start()
        try:
            iterator = iter(streamer)
            while not scanner.stopped:
                try:
                    text = next(iterator)
                except StopIteration:
                    break
                except queue.Empty:
                    raise GenerationError(
                        f"transformers produced no output for {self.timeout_s:g} s",
                        code="timeout",
                    ) from None
                out = scanner.feed(text)
                if out:
                    pieces += 1
                    yield out
            tail = scanner.flush()
            if tail:
                pieces += 1
                yield tail
            if failure:
                exc = failure[0]
                raise GenerationError(
                    f"transformers generation failed ({type(exc).__name__}): "
                    f"{safe_server_message(str(exc), [m.content for m in messages])}"
                ) from exc
            log.debug(
                "transformers: %d prompt tokens, %d pieces in %.2f s",
                int(inputs["input_ids"].shape[-1]),
                pieces,
                time.perf_counter() - started,
            )
        finally:
            cancel.set()
            worker.join(timeout=_JOIN_TIMEOUT_S)
            with self._active_lock:
                self._active.discard(cancel)
