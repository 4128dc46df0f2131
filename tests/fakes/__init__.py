"""Fakes for every backend role: deterministic, instant, and honest about being fakes.

They prove wiring only; real-model tests prove the features.
"""

from tests.fakes.backends import FakeEmbedder, FakeLLM, FakePlanner, FakeTextEmotion

__all__ = ["FakeEmbedder", "FakeLLM", "FakePlanner", "FakeTextEmotion"]
