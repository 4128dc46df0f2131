"""Phonemes to mouth shapes: a small viseme set over the TTS phoneme alphabet.

Each viseme is a target mouth shape ``(open, width, round)``: ``open`` the lip gap in [0, 1],
``width`` the mouth-corner stretch in [-1, 1] (+1 spread as in "see", -1 narrowed), ``round``
the lip rounding/protrusion in [0, 1]. The phoneme alphabet is the Misaki/Kokoro one that
``hibari-tts`` emits (IPA plus capital letters for diphthongs: ``A`` = eɪ, ``I`` = aɪ, ``W`` =
aʊ, ``O`` = oʊ, ``Y`` = ɔɪ); plain IPA from other backends maps through the same table.
Stress marks are ignored; punctuation and unknown symbols are rest (mouth closed).
"""

from __future__ import annotations

from typing import NamedTuple


class Viseme(NamedTuple):
    """A target mouth shape (see the module docstring for the ranges)."""

    open: float
    width: float
    round: float


#: The viseme set: name -> target shape, and the phonemes that take it.
VISEMES: dict[str, tuple[Viseme, str]] = {
    "rest": (Viseme(0.00, 0.0, 0.0), ""),
    "PP": (Viseme(0.00, -0.1, 0.1), "pbm"),
    "FF": (Viseme(0.10, 0.1, 0.0), "fv"),
    "TH": (Viseme(0.20, 0.1, 0.0), "θð"),
    "DD": (Viseme(0.22, 0.2, 0.0), "tdnlɾT"),
    "SS": (Viseme(0.12, 0.45, 0.0), "szʦ"),
    "KK": (Viseme(0.35, 0.1, 0.0), "kɡgŋhx"),
    "CH": (Viseme(0.22, -0.3, 0.6), "ʃʒʧʤ"),
    "RR": (Viseme(0.25, -0.3, 0.5), "ɹrɚɝ"),
    "AA": (Viseme(0.90, 0.15, 0.0), "ɑaæɐʌ"),
    "EH": (Viseme(0.55, 0.35, 0.0), "ɛeəɜᵊ"),
    "IH": (Viseme(0.30, 0.75, 0.0), "iɪᵻj"),
    "OH": (Viseme(0.65, -0.45, 0.7), "ɔoɒ"),
    "OU": (Viseme(0.28, -0.7, 1.0), "uʊwɯ"),
}

#: Diphthongs: two visemes, each for half of the phoneme's duration.
DIPHTHONGS: dict[str, tuple[str, str]] = {
    "A": ("EH", "IH"),
    "I": ("AA", "IH"),
    "W": ("AA", "OU"),
    "O": ("OH", "OU"),
    "Y": ("OH", "IH"),
}

_BY_PHONEME: dict[str, str] = {p: name for name, (_, phones) in VISEMES.items() for p in phones}


def visemes_of(phoneme: str) -> tuple[str, ...]:
    """The viseme name(s) of one phoneme symbol (two for a diphthong; ``("rest",)`` for
    punctuation, stress marks and unknown symbols). Length marks and ties are ignored."""
    symbol = phoneme.strip("ːˈˌ͡")
    if symbol in DIPHTHONGS:
        return DIPHTHONGS[symbol]
    if symbol in _BY_PHONEME:
        return (_BY_PHONEME[symbol],)
    first = symbol[:1]
    return (_BY_PHONEME.get(first, "rest"),) if first else ("rest",)


def shape(name: str) -> Viseme:
    """The target shape of a viseme name."""
    return VISEMES[name][0]
