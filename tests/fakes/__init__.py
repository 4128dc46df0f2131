"""Fakes for every backend role: deterministic, instant, and honest about being fakes.

They prove wiring only; real-model tests prove the features. The media fakes (``asr``,
``speech_emotion``, ``tts``, ``face``) live in :mod:`tests.fakes.media`.
"""

from tests.fakes.backends import FakeEmbedder, FakeLLM, FakePlanner, FakeTextEmotion

__all__ = ["FakeEmbedder", "FakeLLM", "FakePlanner", "FakeTextEmotion"]
