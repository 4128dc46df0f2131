"""Semantic end of turn: whether a person who has paused has finished speaking.

A silence threshold alone either cuts people off at a pause mid-thought ("I was going to say
that, because...") or makes everyone wait. :class:`SmartTurn` runs the Smart Turn v3 model
(pipecat's, BSD-2-Clause, ``smart-turn-v3.2-cpu.onnx``, 8.7 MB, inside the ``pipecat-ai`` wheel,
installed without its dependencies) on the last 8 s of the utterance: Whisper-style log-mel
features (``transformers.WhisperFeatureExtractor``, 80 bins, 8 s chunks, the audio normalised
to zero mean and unit variance, left-padded with silence) into a small audio classifier that
gives the probability that the turn is complete. It hears prosody and words: a falling
"...sad about it." reads complete (0.88), a trailing "...after the wedding, and" or "maybe,
um, because" incomplete (0.006).

:class:`~modalities.speech.segmenter.SpeechSegmenter` asks it once a pause has lasted
``speech.turn_silence_ms`` (200 ms): complete ends the utterance there; incomplete waits until
``speech.turn_max_silence_ms`` (1.5 s) of silence, with ``speech.turn_detection =
"smart_turn"``. The default stays the plain ``min_silence_ms`` rule until the model is checked
on human speech: on the project's synthetic voices it errs both ways ("I was going to call her
because" reads 0.95, "he did not know who I was." 0.04).
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from attune.errors import BackendUnavailableError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
#: The model reads the last this many seconds (shorter audio is left-padded with silence).
WINDOW_SECONDS = 8
MODEL_FILE = ("audio", "turn", "smart_turn", "data", "smart-turn-v3.2-cpu.onnx")


def bundled_model_path() -> Path | None:
    """The Smart Turn v3 ONNX inside the installed ``pipecat-ai`` wheel (located without
    importing pipecat, whose dependencies are not installed), or ``None``."""
    spec = importlib.util.find_spec("pipecat")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*MODEL_FILE)
    return path if path.is_file() else None


class SmartTurn:
    """Smart Turn v3 on onnxruntime (see the module docstring). Thread-safe; loads on first use
    or in :meth:`load`."""

    name = "smart-turn-v3"

    def __init__(
        self, model_path: Path | str | None = None, *, threshold: float = 0.5, threads: int = 1
    ) -> None:
        self.model_path = Path(model_path) if model_path is not None else None
        self.threshold = threshold
        self.threads = threads
        self._session: Any = None
        self._features: Any = None
        self._lock = threading.Lock()

    @staticmethod
    def available() -> bool:
        """Whether the bundled model is installed."""
        return bundled_model_path() is not None

    def load(self) -> None:
        """Open the ONNX session and the feature extractor."""
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            path = self.model_path or bundled_model_path()
            if path is None or not Path(path).is_file():
                raise BackendUnavailableError(
                    "the Smart Turn v3 model is not installed: pip install --no-deps "
                    "pipecat-ai==1.14.0, or set speech.turn_detection = 'silence'"
                )
            import onnxruntime as ort
            from transformers import WhisperFeatureExtractor

            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            started = time.perf_counter()
            session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
            self._features = WhisperFeatureExtractor(chunk_length=WINDOW_SECONDS)
            self._session = session
            log.info("smart turn loaded in %.2f s", time.perf_counter() - started)

    def probability(self, samples: np.ndarray) -> float:
        """The probability that the 16 kHz mono ``samples`` (the utterance so far, ending in
        the pause) are a complete turn."""
        self.load()
        n = WINDOW_SECONDS * SAMPLE_RATE
        x = np.asarray(samples, dtype=np.float32).reshape(-1)[-n:]
        if x.size < n:
            x = np.pad(x, (n - x.size, 0))
        features = self._features(
            x,
            sampling_rate=SAMPLE_RATE,
            padding="max_length",
            max_length=n,
            truncation=True,
            do_normalize=True,
            return_tensors="np",
        ).input_features.astype(np.float32)
        output = self._session.run(None, {"input_features": features})[0]
        return float(np.clip(np.asarray(output).reshape(-1)[0], 0.0, 1.0))

    def complete(self, samples: np.ndarray) -> bool:
        """Whether the turn reads as finished (probability at or above ``threshold``)."""
        return self.probability(samples) >= self.threshold
