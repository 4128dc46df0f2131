"""Semantic end of turn: the real Smart Turn v3 model on the project's own synthesised speech,
and the segmenter's use of it (a finished turn ends at a short pause, an unfinished one waits)."""

from __future__ import annotations

import numpy as np
import pytest

from attune.settings import AttuneSettings
from modalities.speech.segmenter import SpeechSegmenter, Utterance
from modalities.speech.turn import SmartTurn

from .conftest import silence

pytestmark = pytest.mark.slow  # real models (tests/conftest.py fails an unmarked one)

pytest.importorskip("onnxruntime")
if not SmartTurn.available():
    pytest.skip("pipecat-ai (the Smart Turn model) is not installed", allow_module_level=True)

FINISHED = ["I lost my job today and I feel really sad about it.", "Thank you, that helps a lot."]
UNFINISHED = [
    "So I was thinking that maybe, um, because",
    "My sister stopped talking to me after the wedding, and",
]


@pytest.fixture(scope="module")
def voice():
    from attune import registry
    from modalities.audio import resample

    settings = AttuneSettings()
    tts = registry.create("tts", settings.backends.tts, settings)

    def say(text: str) -> np.ndarray:
        return resample(tts.synthesize(text).audio, 16000).samples.astype(np.float32)

    return say


@pytest.fixture(scope="module")
def turn() -> SmartTurn:
    model = SmartTurn()
    model.load()
    return model


def test_finished_and_unfinished_sentences(turn: SmartTurn, voice) -> None:
    done = [turn.probability(voice(t)) for t in FINISHED]
    open_ = [turn.probability(voice(t)) for t in UNFINISHED]
    print("finished", [round(p, 3) for p in done], "unfinished", [round(p, 3) for p in open_])
    assert all(p >= 0.5 for p in done) and all(p < 0.5 for p in open_)
    assert turn.probability(np.zeros(16000, np.float32)) < 1.0  # silence in, a number out


class _Scripted:
    """A turn detector answering from a list (the segmenter's logic, without the model)."""

    threshold = 0.5

    def __init__(self, answers: list[float]) -> None:
        self.answers = answers
        self.asked = 0

    def probability(self, samples: np.ndarray) -> float:
        self.asked += 1
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def _stream(segmenter: SpeechSegmenter, samples: np.ndarray) -> list[object]:
    events: list[object] = []
    for start in range(0, samples.size, 320):
        events += segmenter.push(samples[start : start + 320])
    return events + segmenter.flush()


def test_a_finished_turn_ends_at_a_short_pause(voice) -> None:
    speech = voice("Thank you that helps a lot.")
    audio = np.concatenate([silence(0.3), speech, silence(1.0)])
    detector = _Scripted([0.9])
    segmenter = SpeechSegmenter(turn=detector, turn_silence_ms=200, max_silence_ms=2000)
    (utterance,) = [e for e in _stream(segmenter, audio) if isinstance(e, Utterance)]
    assert utterance.ended_by == "turn" and utterance.turn_probability == 0.9
    assert detector.asked >= 1
    # ended well before the 2 s rule (and the old 0.5 s one): 0.2 s pause + post pad
    assert utterance.end < 0.3 + speech.size / 16000 + 0.5


def test_an_unfinished_turn_waits_for_the_long_pause_and_resumes(voice) -> None:
    first, second = voice(UNFINISHED[1]), voice("I don't know why.")
    audio = np.concatenate([silence(0.3), first, silence(0.7), second, silence(2.5)])
    detector = _Scripted([0.01])  # unfinished at every pause
    segmenter = SpeechSegmenter(turn=detector, turn_silence_ms=200, max_silence_ms=2000)
    utterances = [e for e in _stream(segmenter, audio) if isinstance(e, Utterance)]
    # the 0.7 s pause did not cut it: one utterance, ended by the 2 s rule
    assert len(utterances) == 1 and utterances[0].ended_by == "silence"
    assert utterances[0].end - utterances[0].start > (first.size + second.size) / 16000
    assert detector.asked >= 2


def test_the_real_model_keeps_a_trailing_and_open(voice) -> None:
    # measured on this voice: 0.007 after "...in the hospital and" (the pause is not the end)
    first, second = voice("I went to see my father in the hospital and"), voice("he was asleep.")
    audio = np.concatenate([silence(0.3), first, silence(0.7), second, silence(2.5)])
    segmenter = SpeechSegmenter.from_settings(
        AttuneSettings(speech={"turn_detection": "smart_turn"})
    )
    assert isinstance(segmenter.turn, SmartTurn)
    utterances = [e for e in _stream(segmenter, audio) if isinstance(e, Utterance)]
    assert len(utterances) == 1, [(u.ended_by, u.turn_probability) for u in utterances]
    assert utterances[0].end - utterances[0].start > (first.size + second.size) / 16000


def test_silence_mode_keeps_the_plain_rule() -> None:
    segmenter = SpeechSegmenter.from_settings(AttuneSettings())  # the default
    assert segmenter.turn is None and segmenter.min_silence == 500 * 16
    smart = SpeechSegmenter.from_settings(AttuneSettings(speech={"turn_detection": "smart_turn"}))
    assert smart.turn_silence == 200 * 16 and smart.max_silence == 1500 * 16
