"""The ``espeak`` TTS backend: the espeak-ng synthesiser, for the 100-odd languages and accents
that the bundled voice does not speak (``voice.espeak.voice``: ``en-us``, ``de``, ``fr``, ``es``,
``hi``, ``cmn``...; ``espeak-ng --voices`` lists them).

espeak-ng is a formant synthesiser: robotic next to the bundled voice, but small, fast and
multilingual. It is a system program (``apt-get install espeak-ng``; GPL-3.0), run in a child
process for each sentence, never linked or imported, so it is not a Python dependency and not
part of the default install. The style maps to its own controls: ``speed`` scales the words per
minute (175 at 1.0), ``pitch`` (semitones) moves its 0-99 pitch scale about its default 50, and
``gain_db`` goes through the same peak-limited gain as the other voices. It gives no word or
phoneme timings (its capabilities say so), so the avatar's mouth follows the audio's loudness.
The text is passed as an argument, never logged.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from attune.errors import BackendUnavailableError, ConfigError
from attune.types import Audio, VoiceStyle
from modalities.voice.base import (
    SpeechChunk,
    SpeechSynthesizer,
    TTSCapabilities,
    nothing_to_speak,
    split_sentences,
    validate_text,
)
from modalities.voice.hibari_tts import apply_gain

if TYPE_CHECKING:
    from attune.settings import AttuneSettings

SAMPLE_RATE = 22050
WORDS_PER_MINUTE = 175
_TIMEOUT_S = 30.0


class EspeakTTS(SpeechSynthesizer):
    """espeak-ng in a child process, one sentence at a time."""

    name = "espeak"

    def __init__(self, voice: str = "en-us", program: str = "espeak-ng") -> None:
        if not voice or not all(c.isalnum() or c in "-_+" for c in voice):
            raise ConfigError(f"espeak voice names are like 'en-us' or 'de', got {voice!r}")
        self.voice = voice
        self.program = program
        self._path: str | None = None

    @classmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> EspeakTTS:
        return cls(voice=kwargs.get("voice", settings.voice.espeak.voice))

    def _load(self) -> None:
        """Find the program and check that it knows the voice."""
        path = shutil.which(self.program)
        if path is None:
            raise BackendUnavailableError(
                f"the espeak TTS backend runs {self.program}, which is not installed: "
                "apt-get install espeak-ng"
            )
        listed = subprocess.run(
            [path, "--voices"], capture_output=True, text=True, timeout=_TIMEOUT_S, check=False
        )
        rows = [line.split() for line in listed.stdout.splitlines()[1:]]
        known = {row[1] for row in rows if len(row) > 1}  # the Language column: en-us, de...
        if self.voice not in known:
            raise ConfigError(f"espeak-ng has no voice {self.voice!r} (espeak-ng --voices)")
        self._path = path

    @property
    def capabilities(self) -> TTSCapabilities:
        return TTSCapabilities(
            streaming=True, word_timings=False, phoneme_timings=False, sample_rate=SAMPLE_RATE
        )

    def synthesize(self, text: str, style: VoiceStyle | None = None) -> SpeechChunk:
        """Speak ``text`` (sentence by sentence, joined) as one chunk."""
        text = validate_text(text)
        style = style or VoiceStyle()
        self.load()
        pieces = [self._speak(sentence, style) for sentence in split_sentences(text)]
        samples = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
        if samples.size == 0 or float(np.abs(samples).max()) < 1e-4:
            raise nothing_to_speak()
        return SpeechChunk(audio=Audio(apply_gain(samples, style.gain_db), SAMPLE_RATE), text=text)

    def _speak(self, sentence: str, style: VoiceStyle) -> np.ndarray:
        assert self._path is not None
        speed = int(np.clip(round(WORDS_PER_MINUTE * style.speed), 80, 450))
        pitch = int(np.clip(round(50 + style.pitch * 50 / 12), 0, 99))
        with tempfile.TemporaryDirectory(prefix="attune-espeak-") as folder:
            out = Path(folder) / "said.wav"
            command = [self._path, "-v", self.voice, "-s", str(speed), "-p", str(pitch)]
            done = subprocess.run(
                [*command, "-w", str(out), "--", sentence],
                capture_output=True,
                timeout=_TIMEOUT_S,
                check=False,
            )
            if done.returncode != 0 or not out.is_file():
                raise RuntimeError(f"espeak-ng failed (exit {done.returncode})")
            with wave.open(str(out), "rb") as wav:
                if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
                    raise RuntimeError("espeak-ng wrote an unexpected WAV format")
                rate = wav.getframerate()
                frames = wav.readframes(wav.getnframes())
        if rate != SAMPLE_RATE:
            raise RuntimeError(f"espeak-ng wrote {rate} Hz, expected {SAMPLE_RATE}")
        return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
