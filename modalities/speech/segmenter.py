"""Streaming endpointing: cut a live 16 kHz microphone stream into utterances.

Chunks of any size (typically 20-100 ms, float32 arrays or PCM16 bytes) go in through
:meth:`SpeechSegmenter.push`; the audio is re-cut into 512-sample windows (32 ms) and each
window is scored by the Silero VAD v6 model that faster-whisper ships
(``faster_whisper/assets/silero_vad_v6.onnx``), run directly with onnxruntime. The model is
recurrent: its LSTM state and the last 64 samples of the previous window (its context) are
carried from window to window, so the scores do not depend on how the stream was chunked.

Endpointing uses hysteresis on the speech probability ``p``: speech starts when
``p >= threshold`` and a pause starts when ``p < threshold - 0.15``; values in between continue
whatever is happening. An utterance ends once the pause has lasted ``min_silence_ms``; or,
with a ``turn`` detector (:mod:`modalities.speech.turn`, the default through settings), the
detector is asked once the pause has lasted ``turn_silence_ms``: a finished turn ends there, an
unfinished one ("...and", "because um") waits up to ``max_silence_ms``, and speech that resumes
asks again at the next pause (``Utterance.ended_by`` says which).
It then covers ``pre_roll_ms`` of audio before the first speech window (the VAD reacts late and
soft onsets matter to ASR) up to ``post_pad_ms`` after the last one. Speech shorter than
``min_speech_ms`` (a cough, a click) is dropped. An utterance longer than
``max_utterance_seconds`` is cut there and the speech continues as a new utterance.

Events, in stream order: :class:`SpeechStarted` once an utterance has lasted ``min_speech_ms``
(so every ``SpeechStarted`` is followed by exactly one :class:`Utterance`, at the latest on
:meth:`~SpeechSegmenter.flush`), then the :class:`Utterance`. Times are seconds since the first
sample pushed. Partial (interim) transcripts are not produced here.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from attune.errors import InputError, ModelNotFoundError
from attune.types import Audio

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from attune.settings import AttuneSettings

SAMPLE_RATE = 16000
WINDOW = 512  # samples per VAD window at 16 kHz
_CONTEXT = 64  # samples of the previous window the model sees
_HYSTERESIS = 0.15


@dataclass(frozen=True)
class SpeechStarted:
    """Someone has been speaking for ``min_speech_ms``; ``at`` is when their speech began."""

    at: float


@dataclass(frozen=True, eq=False)
class Utterance:
    """One finished utterance: ``audio`` covers ``start`` to ``end`` (seconds in the stream)."""

    audio: Audio
    start: float
    end: float
    #: What ended it: ``"turn"`` (the turn detector said finished), ``"silence"`` (the pause
    #: rule), ``"max_length"``, ``"flush"`` (the stream ended).
    ended_by: str = "silence"
    #: The turn detector's probability of a finished turn at the pause that ended it, if asked.
    turn_probability: float | None = None
    #: Where the last speech of the utterance ended (seconds in the stream).
    speech_end: float = 0.0


SegmenterEvent = SpeechStarted | Utterance


def silero_model_path() -> Path:
    """The Silero VAD ONNX file inside the faster-whisper package (found without importing it)."""
    spec = importlib.util.find_spec("faster_whisper")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "the Silero VAD model ships with faster-whisper, which is not installed: "
            "pip install 'attune[speech]'"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "assets" / "silero_vad_v6.onnx"
    if not path.is_file():
        raise ModelNotFoundError(f"Silero VAD model not found at {path}")
    return path


@functools.lru_cache(maxsize=1)
def _silero_session() -> Any:
    """One onnxruntime session for every stream (``run`` is thread-safe; state is per stream)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    options.log_severity_level = 4
    return onnxruntime.InferenceSession(
        str(silero_model_path()), providers=["CPUExecutionProvider"], sess_options=options
    )


class SileroVAD:
    """Speech probability of consecutive 512-sample windows of one 16 kHz stream."""

    def __init__(self) -> None:
        self._session: Any = None
        self._lock = threading.Lock()
        self.reset()

    def load(self) -> None:
        """Load the model now (otherwise on the first window)."""
        with self._lock:
            if self._session is None:
                self._session = _silero_session()

    def reset(self) -> None:
        """Forget the stream: a new stream starts from a clean recurrent state."""
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)

    def __call__(self, window: np.ndarray) -> float:
        """The probability that ``window`` (512 samples, float32) holds speech."""
        if self._session is None:
            self.load()
        model_input = np.concatenate([self._context, window])[None, :]
        prob, self._h, self._c = self._session.run(
            None, {"input": model_input, "h": self._h, "c": self._c}
        )
        self._context = window[-_CONTEXT:].copy()
        return float(np.asarray(prob).reshape(-1)[0])


class SpeechSegmenter:
    """Cuts one live 16 kHz mono stream into utterances (see the module docstring).

    Not thread-safe: one segmenter per stream, fed from one task.
    """

    def __init__(
        self,
        *,
        threshold: float = 0.5,
        min_silence_ms: int = 500,
        min_speech_ms: int = 250,
        max_utterance_seconds: float = 30.0,
        pre_roll_ms: int = 300,
        post_pad_ms: int = 200,
        vad: SileroVAD | None = None,
        turn: Any = None,
        turn_silence_ms: int = 200,
        max_silence_ms: int = 1500,
    ) -> None:
        if not _HYSTERESIS < threshold < 1.0:
            raise ValueError(f"threshold must be in ({_HYSTERESIS}, 1), got {threshold}")
        self.threshold = threshold
        self.min_silence = int(min_silence_ms * SAMPLE_RATE / 1000)
        self.min_speech = int(min_speech_ms * SAMPLE_RATE / 1000)
        self.max_utterance = int(max_utterance_seconds * SAMPLE_RATE)
        self.pre_roll = int(pre_roll_ms * SAMPLE_RATE / 1000)
        self.post_pad = min(int(post_pad_ms * SAMPLE_RATE / 1000), self.min_silence)
        self.vad = vad or SileroVAD()
        #: ``None`` or an object with ``probability(samples) -> float`` and ``threshold``.
        self.turn = turn
        self.turn_silence = int(turn_silence_ms * SAMPLE_RATE / 1000)
        self.max_silence = max(int(max_silence_ms * SAMPLE_RATE / 1000), self.turn_silence)
        self.reset()

    @classmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> SpeechSegmenter:
        """A segmenter with the endpointing settings of ``settings.speech``."""
        speech = settings.speech
        options: dict[str, Any] = {
            "threshold": speech.vad_threshold,
            "min_silence_ms": speech.min_silence_ms,
            "min_speech_ms": speech.min_speech_ms,
            "max_utterance_seconds": speech.max_utterance_seconds,
            "turn_silence_ms": speech.turn_silence_ms,
            "max_silence_ms": speech.turn_max_silence_ms,
        }
        if speech.turn_detection == "smart_turn" and "turn" not in kwargs:
            from modalities.speech.turn import SmartTurn

            if SmartTurn.available():
                options["turn"] = _shared_smart_turn()
            else:
                logger.warning("the Smart Turn model is not installed: ending turns on silence")
        options.update(kwargs)
        return cls(**options)

    def load(self) -> None:
        """Load the VAD (and turn) model now (otherwise on the first chunk)."""
        self.vad.load()
        if self.turn is not None and hasattr(self.turn, "load"):
            self.turn.load()

    def reset(self) -> None:
        """Start a new stream: drop buffered audio and the VAD state; times restart at 0."""
        self.vad.reset()
        self._pending = np.zeros(0, dtype=np.float32)  # samples not yet in a full window
        self._recent: deque[np.ndarray] = deque()  # pre-roll while idle
        self._recent_size = 0
        self._position = 0  # samples scored so far
        self._active = False
        self._started_sent = False
        self._speech_start = 0  # first speech sample of the current utterance
        self._audio_start = 0  # first sample kept (speech start minus pre-roll)
        self._speech_end = 0  # end of the last speech window
        self._silence_from: int | None = None
        self._kept: list[np.ndarray] = []
        self._turn_asked: float | None = None  # the detector's answer for this pause

    # --- input --------------------------------------------------------------------------------

    def push(self, chunk: np.ndarray | bytes | bytearray | memoryview) -> list[SegmenterEvent]:
        """Feed the next chunk of the stream; returns the events it completed, in order."""
        samples = _as_float(chunk)
        if samples.size == 0:
            return []
        data = np.concatenate([self._pending, samples]) if self._pending.size else samples
        usable = data.size - data.size % WINDOW
        self._pending = data[usable:].copy()
        events: list[SegmenterEvent] = []
        for offset in range(0, usable, WINDOW):
            self._step(data[offset : offset + WINDOW], events)
        return events

    def flush(self) -> list[SegmenterEvent]:
        """End of stream: emit the utterance in progress, if long enough, and reset."""
        events: list[SegmenterEvent] = []
        if self._active:
            if self._pending.size:
                self._kept.append(self._pending)
            end = self._position + self._pending.size
            self._finish(min(end, self._speech_end + self.post_pad), events, "flush")
        self.reset()
        return events

    @property
    def speech_seconds(self) -> float:
        """How long the person has been speaking in the utterance in progress (0 when idle)."""
        if not self._active:
            return 0.0
        return max(0, self._speech_end - self._speech_start) / SAMPLE_RATE

    @property
    def speech_end_seconds(self) -> float:
        """Where the last speech heard ended (seconds in the stream)."""
        return self._speech_end / SAMPLE_RATE

    @property
    def pause_seconds(self) -> float:
        """How long the utterance in progress has been silent since its last speech."""
        if not self._active:
            return 0.0
        return max(0, self._position - self._speech_end) / SAMPLE_RATE

    def current_audio(self) -> Audio | None:
        """The utterance in progress so far (with its pre-roll), or ``None`` when idle."""
        if not self._active or not self._kept:
            return None
        return Audio(np.concatenate(self._kept).copy(), SAMPLE_RATE)

    # --- the state machine --------------------------------------------------------------------

    def _step(self, window: np.ndarray, events: list[SegmenterEvent]) -> None:
        prob = self.vad(window)
        start = self._position
        self._position += WINDOW
        if not self._active:
            if prob >= self.threshold:
                self._begin(start)
                self._kept.append(window)
                self._speech_end = self._position
            else:
                self._remember(window)
            return

        self._kept.append(window)
        if prob >= self.threshold:
            self._speech_end = self._position
            self._silence_from = None
            self._turn_asked = None
        elif prob < self.threshold - _HYSTERESIS and self._silence_from is None:
            self._silence_from = start
        speech = self._speech_end - self._speech_start
        if not self._started_sent and speech >= self.min_speech:
            self._started_sent = True
            events.append(SpeechStarted(at=self._speech_start / SAMPLE_RATE))

        pause = self._position - self._silence_from if self._silence_from is not None else -1
        if self.turn is not None and pause >= self.turn_silence:
            if self._turn_asked is None and speech >= self.min_speech:
                self._turn_asked = self._ask_turn()
                if self._turn_asked >= self.turn.threshold:
                    self._finish(self._speech_end + self.post_pad, events, "turn")
                    return
            if pause >= self.max_silence:
                self._finish(self._speech_end + self.post_pad, events, "silence")
                return
        elif self.turn is None and pause >= self.min_silence:
            self._finish(self._speech_end + self.post_pad, events, "silence")
            return
        if self._position - self._audio_start >= self.max_utterance:
            self._finish(self._position, events, "max_length")
            self._begin(self._position, pre_roll=False)
            self._speech_end = self._position

    def _ask_turn(self) -> float:
        """The turn detector's probability of a finished turn on the utterance so far."""
        assert self.turn is not None
        kept = np.concatenate(self._kept) if self._kept else np.zeros(0, np.float32)
        upto = max(0, self._speech_end + self.post_pad - self._audio_start)
        return float(self.turn.probability(kept[:upto]))

    def _remember(self, window: np.ndarray) -> None:
        """Keep the last ``pre_roll`` samples heard while idle."""
        self._recent.append(window)
        self._recent_size += window.size
        while self._recent and self._recent_size - self._recent[0].size >= self.pre_roll:
            self._recent_size -= self._recent.popleft().size

    def _begin(self, speech_start: int, *, pre_roll: bool = True) -> None:
        before = np.concatenate(list(self._recent)) if pre_roll and self._recent else None
        if before is not None:
            before = before[-self.pre_roll :] if self.pre_roll else before[:0]
        self._kept = [before] if before is not None and before.size else []
        self._audio_start = speech_start - (before.size if before is not None else 0)
        self._speech_start = speech_start
        self._recent.clear()
        self._recent_size = 0
        self._active = True
        self._started_sent = False
        self._silence_from = None

    def _finish(self, end: int, events: list[SegmenterEvent], ended_by: str = "silence") -> None:
        """Close the current utterance at sample ``end``; keep audio past it as pre-roll."""
        kept = np.concatenate(self._kept) if self._kept else np.zeros(0, np.float32)
        length = max(0, end - self._audio_start)
        audio, rest = kept[:length], kept[length:]
        if self._speech_end - self._speech_start >= self.min_speech:
            if not self._started_sent:
                events.append(SpeechStarted(at=self._speech_start / SAMPLE_RATE))
            events.append(
                Utterance(
                    audio=Audio(audio.copy(), SAMPLE_RATE),
                    start=self._audio_start / SAMPLE_RATE,
                    end=(self._audio_start + audio.size) / SAMPLE_RATE,
                    ended_by=ended_by,
                    turn_probability=self._turn_asked,
                    speech_end=self._speech_end / SAMPLE_RATE,
                )
            )
        self._active = False
        self._started_sent = False
        self._silence_from = None
        self._turn_asked = None
        self._kept = []
        if rest.size:
            self._remember(rest)

    def segment(self, audio: Audio) -> list[Utterance]:
        """All utterances of a whole recording (a convenience over push + flush; resets first)."""
        if audio.sample_rate != SAMPLE_RATE:
            raise InputError(
                "bad_audio", f"the segmenter needs {SAMPLE_RATE} Hz audio, got {audio.sample_rate}"
            )
        self.reset()
        events = self.push(audio.samples) + self.flush()
        return [e for e in events if isinstance(e, Utterance)]


@functools.lru_cache(maxsize=1)
def _shared_smart_turn() -> Any:
    """One Smart Turn model for every segmenter of the process (it is thread-safe)."""
    from modalities.speech.turn import SmartTurn

    return SmartTurn()


def _as_float(chunk: np.ndarray | bytes | bytearray | memoryview) -> np.ndarray:
    """A chunk as float32 samples: PCM16 bytes are scaled, int16 arrays too."""
    if isinstance(chunk, bytes | bytearray | memoryview):
        raw = bytes(chunk)
        if len(raw) % 2:
            raise InputError("bad_audio", f"{len(raw)} bytes is not a whole number of samples")
        return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    array = np.asarray(chunk)
    if array.ndim != 1:
        raise InputError("bad_audio", f"expected mono samples (1-D), got shape {array.shape}")
    if array.dtype == np.int16:
        return array.astype(np.float32) / 32768.0
    if not np.issubdtype(array.dtype, np.floating):
        raise InputError("bad_audio", f"unsupported sample type {array.dtype}")
    samples = array.astype(np.float32, copy=False)
    if not np.all(np.isfinite(samples)):
        raise InputError("bad_audio_values", "the audio holds NaN or infinite sample values")
    return samples
