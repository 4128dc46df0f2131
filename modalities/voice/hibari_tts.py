"""The ``hibari`` TTS backend: hibari-tts' bundled 24 kHz voice (Kokoro ``af_heart`` distilled to
a 7.9 MB int8 ONNX model), with speed, pitch and gain from a :class:`VoiceStyle`, and per-word and
per-phoneme timings.

How one sentence is spoken:

1. hibari's G2P turns the text into tokens with misaki-style phonemes; the phoneme string is
   their concatenation and becomes the model's ids (``0`` pads at both ends).
2. The ONNX model takes the ids and ``speed`` (its duration predictor divides each phoneme's
   duration by it) and returns, per 12.5 ms frame, the spectral parts and the pitch contour
   ``f0``.
3. The pitch contour is multiplied by ``2 ** (pitch / 12)`` before hibari's vocoder
   (``hibari.dsp.synth``) turns the frames into a waveform: the vocoder builds a pulse train from
   ``f0`` and shapes it with the predicted spectral envelope, so the harmonics move while the
   envelope (the formants, the voice's timbre) stays: a pitch shift without resampling and
   without changing the length.
4. ``gain_db`` is applied with a peak limiter: when the gain would push the peak over
   :data:`PEAK_CEILING`, the whole chunk's gain is lowered to reach it instead, so nothing clips.

Timings: the model computes integer per-phoneme durations internally (tensor
:data:`DURATIONS_TENSOR`, after ``speed`` is applied) but does not export them. On load the
model's bytes get one more graph output appended, naming that tensor (a protobuf field appended
to a serialised message merges into it, so no ``onnx`` package is needed). The frames are the
durations upsampled by a fixed factor, so phoneme ``i`` spans samples
``cumsum(d)[i-1] .. cumsum(d)[i]`` times ``n_samples / sum(d)``. Phonemes map back to words
through the G2P's tokens: each token contributed a known slice of the phoneme string. A word is
a token that has phonemes and a letter or digit; its text is the token as the G2P read it (so
"$9.99" gives the word "9.99", spoken as "nine dollars and ninety-nine cents"). If a model lacks
the tensor, timings are not offered and :attr:`HibariTTS.capabilities` says so.

Only the bundled voice (``heart``, Kokoro name ``af_heart``) is available offline; another
hibari voice is used only if it is already in hibari's cache directory (it is never downloaded).
The text being spoken is never logged.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from attune.errors import ConfigError, ModelNotFoundError
from attune.types import Audio, VoiceStyle, WordTiming
from modalities.voice.base import (
    PhonemeTiming,
    SpeechChunk,
    SpeechSynthesizer,
    TTSCapabilities,
    nothing_to_speak,
    split_sentences,
    validate_text,
)

if TYPE_CHECKING:
    from attune.settings import AttuneSettings

logger = logging.getLogger(__name__)

SAMPLE_RATE = 24000
BUNDLED_VOICE = "af_heart"
#: The model's integer per-phoneme durations (after dividing by ``speed``), exported on load.
DURATIONS_TENSOR = "/Cast_32_output_0"
#: The most phonemes one model call gets (hibari's own limit); longer sentences are cut first.
MAX_PHONEMES = 400
#: The highest absolute sample value after gain (about -0.26 dBFS).
PEAK_CEILING = 0.97

_WORDLIKE = re.compile(r"\w")


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _length_delimited(field_number: int, payload: bytes) -> bytes:
    return _varint(field_number << 3 | 2) + _varint(len(payload)) + payload


def with_extra_output(model: bytes, tensor: str) -> bytes:
    """A serialised ONNX model with ``tensor`` added to its graph outputs.

    Appends ``ModelProto.graph`` (field 7) holding one ``GraphProto.output`` (field 12), a
    ``ValueInfoProto`` with only its ``name`` (field 1): protobuf parsers merge a repeated
    occurrence of a message field into the first, so this adds one output and changes nothing
    else.
    """
    value_info = _length_delimited(1, tensor.encode())
    return model + _length_delimited(7, _length_delimited(12, value_info))


def default_threads() -> int:
    """onnxruntime intra-op threads: 1 on machines with up to 4 cores (the model runs well over
    100x real time on one), else 2."""
    return 1 if (os.cpu_count() or 1) <= 4 else 2


def apply_gain(samples: np.ndarray, gain_db: float, ceiling: float = PEAK_CEILING) -> np.ndarray:
    """``samples`` times ``gain_db``, with the gain lowered so the peak stays at most ``ceiling``
    (one gain for the whole chunk: no clipping and no pumping within a sentence)."""
    gain = 10.0 ** (gain_db / 20.0)
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak * gain > ceiling:
        gain = ceiling / peak
    return (samples * np.float32(gain)).astype(np.float32, copy=False)


@dataclass
class _Phonemized:
    """One sentence as the model sees it: ids, the phoneme behind each non-pad id, and for each
    word the id positions it spans (``[first, last)``, pads counted)."""

    ids: list[int]
    symbols: list[str]
    words: list[tuple[str, int, int]]


class HibariTTS(SpeechSynthesizer):
    """hibari-tts' bundled voice, with affect-driven speed, pitch and gain and word timings.

    Construction is cheap; :meth:`load` (or the first synthesis) loads the model and the G2P,
    once, thread-safely; synthesis may run from several threads at once. ``threads`` sets
    onnxruntime's intra-op threads (default :func:`default_threads`); ``seed`` fixes the vocoder's
    noise, so the same text and style give the same samples.
    """

    name = "hibari"

    def __init__(self, voice: str = BUNDLED_VOICE, threads: int | None = None, seed: int = 0):
        if threads is not None and threads < 1:
            raise ConfigError(f"hibari threads must be at least 1, got {threads}")
        self.voice = voice
        self.threads = threads or default_threads()
        self.seed = seed
        self._g2p_lock = threading.Lock()  # hibari's G2P keeps per-call state on its tokens
        self._session: Any = None
        self._g2p: Any = None
        self._vocab: dict[str, int] = {}
        self._timed = False

    @classmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> HibariTTS:
        """From ``settings.voice.hibari.voice``; ``threads`` and ``seed`` may be keywords."""
        return cls(voice=settings.voice.hibari.voice, **kwargs)

    # -- loading -----------------------------------------------------------------------------

    def _model_path(self) -> str:
        """The voice's ONNX file: the bundled one, or a voice already in hibari's cache."""
        from hibari.voices import VOICES, voice_path

        by_kokoro = {v["kokoro"]: name for name, v in VOICES.items()}
        name = by_kokoro.get(self.voice, self.voice)
        bundled = [v["kokoro"] for v in VOICES.values() if v.get("bundled")]
        if name not in VOICES:
            raise ConfigError(
                f"unknown hibari voice {self.voice!r}; the bundled voice is {BUNDLED_VOICE!r} "
                f"(others: {', '.join(sorted(by_kokoro))})"
            )
        try:
            return str(voice_path(name, download_missing=False))
        except FileNotFoundError:
            raise ConfigError(
                f"hibari voice {self.voice!r} is not bundled and would have to be downloaded, "
                f"which Attune never does; use the bundled voice {', '.join(bundled)!r} "
                "(set ATTUNE_VOICE__HIBARI__VOICE) or copy the voice file into hibari's cache "
                "directory"
            ) from None

    def _load(self) -> None:
        """The ONNX model (with its durations exported) and the G2P."""
        started = time.perf_counter()
        import onnxruntime as ort
        from hibari.g2p import G2P
        from hibari.tts import ASSETS
        from hibari.voices import VOICES

        path = self._model_path()
        try:
            with open(path, "rb") as f:
                model = f.read()
            with open(os.path.join(ASSETS, "vocab.json"), encoding="utf-8") as f:
                self._vocab = json.load(f)
        except OSError as exc:
            raise ModelNotFoundError(f"hibari model files not readable: {exc}") from exc
        self._timed = DURATIONS_TENSOR.encode() in model
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = self.threads
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            with_extra_output(model, DURATIONS_TENSOR) if self._timed else model,
            options,
            providers=["CPUExecutionProvider"],
        )
        british = any(v["file"] == os.path.basename(path) and v["british"] for v in VOICES.values())
        self._g2p = G2P(british=british)
        self._g2p("Warm up.")  # loads the lazy OOV net and the tagger's tables
        seconds = time.perf_counter() - started  # Loadable keeps load_seconds
        logger.info(
            "hibari loaded in %.2f s (threads=%d, timings=%s)",
            seconds,
            self.threads,
            self._timed,
        )

    @property
    def capabilities(self) -> TTSCapabilities:
        """Streams by sentence; word and phoneme timings when the model exports durations (the
        bundled one does; this loads the model to find out)."""
        self.load()
        return TTSCapabilities(
            streaming=True,
            word_timings=self._timed,
            phoneme_timings=self._timed,
            sample_rate=SAMPLE_RATE,
        )

    # -- synthesis ---------------------------------------------------------------------------

    def _phonemize(self, text: str) -> _Phonemized:
        """Tokens -> the phoneme string (hibari's own join) -> ids, keeping which ids each word
        produced."""
        from hibari.g2p.normalize import normalize

        with self._g2p_lock:
            tokens = self._g2p.phonemize_tokens(self._g2p.tokenize(normalize(text)))
        chars: list[tuple[str, int]] = []  # (phoneme character, index of its token; -1: a space)
        for index, tok in enumerate(tokens):
            chars += [(char, index) for char in tok.phonemes or ""]
            if tok.whitespace:
                chars.append((" ", -1))
        while chars and chars[0][0] == " ":
            chars.pop(0)
        while chars and chars[-1][0] == " ":
            chars.pop()
        ids, symbols = [0], []
        spans: dict[int, list[int]] = {}
        for char, index in chars:
            if char not in self._vocab:
                continue
            if index >= 0:
                spans.setdefault(index, [len(ids), 0])[1] = len(ids) + 1
            ids.append(self._vocab[char])
            symbols.append(char)
        ids.append(0)
        words = [
            (tokens[index].text, first, last)
            for index, (first, last) in spans.items()
            if _WORDLIKE.search(tokens[index].text)
        ]
        return _Phonemized(ids, symbols, words)

    def _speak(
        self, text: str, style: VoiceStyle
    ) -> tuple[np.ndarray, list[WordTiming], list[PhonemeTiming]]:
        """One sentence -> (samples before gain, word timings, phoneme timings), times from 0."""
        from hibari import dsp

        sentence = self._phonemize(text)
        if len(sentence.ids) - 2 > MAX_PHONEMES:
            return self._speak_pieces(split_sentences(text, max(len(text) // 2, 1)), style)
        if len(sentence.ids) < 3:
            return np.zeros(0, np.float32), [], []
        outputs = self._session.run(
            None,
            {
                "ids": np.asarray([sentence.ids], np.int64),
                "speed": np.asarray([style.speed], np.float32),
            },
        )
        lh, theta, ln, lr, phi, f0 = (o[0] for o in outputs[:6])
        f0 = f0 * np.float32(2.0 ** (style.pitch / 12.0))
        samples = dsp.synth(lh, theta, ln, lr, phi, f0, np.random.default_rng(self.seed))
        if not self._timed:
            return samples, [], []
        return samples, *self._timings(sentence, outputs[6].reshape(-1), len(samples))

    def _speak_pieces(
        self, pieces: list[str], style: VoiceStyle
    ) -> tuple[np.ndarray, list[WordTiming], list[PhonemeTiming]]:
        """Speak pieces one after the other, joining their samples and timings."""
        parts, words, phonemes, start = [], [], [], 0.0
        for piece in pieces:
            samples, piece_words, piece_phonemes = self._speak(piece, style)
            parts.append(samples)
            words += [
                WordTiming(word=w.word, start=w.start + start, end=w.end + start)
                for w in piece_words
            ]
            phonemes += [
                PhonemeTiming(p.phoneme, p.start + start, p.end + start) for p in piece_phonemes
            ]
            start += len(samples) / SAMPLE_RATE
        joined = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        return joined, words, phonemes

    @staticmethod
    def _timings(
        sentence: _Phonemized, durations: np.ndarray, n_samples: int
    ) -> tuple[list[WordTiming], list[PhonemeTiming]]:
        """Per-id durations -> phoneme and word times in seconds (see the module docstring)."""
        total = int(durations.sum())
        if len(durations) != len(sentence.ids) or total <= 0:
            return [], []
        bounds = np.concatenate([[0], np.cumsum(durations)]) * (n_samples / total / SAMPLE_RATE)
        phonemes = [
            PhonemeTiming(symbol, float(bounds[i + 1]), float(bounds[i + 2]))
            for i, symbol in enumerate(sentence.symbols)
            if symbol != " "
        ]
        words = [
            WordTiming(word=text, start=float(bounds[first]), end=float(bounds[last]))
            for text, first, last in sentence.words
        ]
        return words, phonemes

    def synthesize(self, text: str, style: VoiceStyle | None = None) -> SpeechChunk:
        """Speak ``text`` (cut into sentences for the model, joined back) as one chunk."""
        text = validate_text(text)
        style = style or VoiceStyle()
        self.load()
        samples, words, phonemes = self._speak_pieces(split_sentences(text), style)
        if samples.size == 0:
            raise nothing_to_speak()
        audio = Audio(apply_gain(samples, style.gain_db), SAMPLE_RATE)
        return SpeechChunk(
            audio=audio,
            text=text,
            words=words,
            phonemes=phonemes if self._timed else None,
        )
