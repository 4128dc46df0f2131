"""The project's fusion set (``agent/fusion_eval.py``, ``attune eval fusion``): the expectation
table and its checks by hand, then the whole set over the real text-emotion head, face backend
and portrait renderer."""

from __future__ import annotations

import json

import pytest

from agent.fusion_eval import FACES, UTTERANCES, check, evaluate_fusion, expected
from attune.types import FusedAffect

ISSUE_ROWS = (
    "My father passed away last week.",
    "I am fine, really, it is just that my father passed away last week.",
    "Honestly I'm okay. I just haven't slept since the funeral.",
    "I failed my exam and my parents will be furious.",
)


def affect(label: str, valence: float, flagged: bool, cues: list[str] | None = None):
    return FusedAffect(
        scores={label: 1.0},
        label=label,
        valence=valence,
        arousal=0.5,
        intensity=0.5,
        incongruence=0.7 if flagged else 0.1,
        incongruent=flagged,
        disagreements=["text~face"] if flagged else [],
        cues=cues or [],
    )


def test_the_expectation_table():
    assert expected("negative", "happy") == {
        "valence": "negative", "not_joy": True, "not_negative": False,
        "incongruent": True, "hedged": False,
    }  # fmt: skip
    assert expected("negative", "neutral")["incongruent"] is False
    assert expected("hedged", "neutral")["incongruent"] is None  # a hedge may flag on its own
    assert expected("hedged", "happy")["hedged"] and expected("hedged", "happy")["incongruent"]
    assert expected("positive", "happy")["valence"] == "positive"
    assert expected("positive", "neutral")["valence"] is None
    assert expected("neutral", "happy")["incongruent"] is False


def test_check_names_each_failed_expectation():
    smile_neg = expected("negative", "happy")
    assert check(affect("sadness", -0.4, True, ["bereavement"]), smile_neg) == []
    assert check(affect("joy", 0.3, True), smile_neg) == ["valence not negative", "read as joy"]
    assert check(affect("sadness", -0.4, False), smile_neg) == ["not flagged incongruent"]
    hedged = expected("hedged", "happy")
    assert check(affect("sadness", -0.4, True), hedged) == ["hedged cue missing"]
    assert check(affect("sadness", -0.4, True, ["hedged"]), hedged) == []
    assert check(affect("sadness", -0.4, True, ["hedged"]), expected("hedged", "neutral")) == []
    positive = expected("positive", "neutral")
    assert check(affect("fear", 0.1, False), positive) == ["read as fear"]
    assert check(affect("joy", 0.5, True), positive) == ["flagged incongruent"]


def test_the_set_holds_the_issue_rows_and_every_kind_with_every_known_expression():
    assert set(ISSUE_ROWS) <= {t for texts in UTTERANCES.values() for t in texts}
    assert {f.known for f in FACES} == {"happy", "neutral", "sad"}
    assert {f.source.split(":")[0] for f in FACES} == {"portrait", "render", "lfw", "hopper"}
    assert len({f.name for f in FACES}) == len(FACES)


@pytest.fixture(scope="module")
def report():
    pytest.importorskip("ai_edge_litert")
    from attune import registry
    from attune.settings import load_settings

    settings = load_settings()
    text = registry.create("text_emotion", settings.backends.text_emotion, settings)
    face = registry.create("face", settings.backends.face, settings)
    renderer = registry.create("avatar", "portrait", settings)
    return evaluate_fusion(text, face, renderer, settings.fusion)


@pytest.mark.slow
def test_every_photo_reads_as_its_known_expression(report):
    # measured: the portrait, the renderer's joy row, 5 smiling and 8 neutral LFW crops and the
    # Hopper portrait all read as known; the renderer's neutral and sad rows keep the photo's
    # toothy smile and read happy (0.94 / 0.93), so they are counted apart
    assert set(report["faces_misread"]) <= {"render:neutral", "render:sad"}, report["faces"]
    assert report["n_scored"] >= 16 * sum(len(t) for t in UTTERANCES.values())


@pytest.mark.slow
def test_every_case_of_the_fusion_set_meets_its_expectation(report):
    assert report["pass_rate"] == 1.0, [
        (c["face"], c["text"], c["label"], c["valence"], c["incongruence"], c["failed"])
        for c in report["failures"]
    ]
    cells = report["cells"]
    for known in ("happy", "neutral"):
        assert cells[f"negative x {known}"]["valence_max"] < 0
        assert cells[f"hedged x {known}"]["valence_max"] < 0
    assert cells["negative x happy"]["flagged"] == cells["negative x happy"]["n"]
    assert cells["hedged x happy"]["flagged"] == cells["hedged x happy"]["n"]
    for congruent in ("negative x neutral", "positive x happy", "neutral x neutral"):
        assert cells[congruent]["flagged"] == 0, congruent


@pytest.mark.slow
def test_the_issue_rows_with_the_default_portrait(report):
    rows = {c["text"]: c for c in report["cases"] if c["face"] == "portrait"}
    for text in ISSUE_ROWS:
        case = rows[text]
        assert case["status"] == "pass" and case["valence"] < 0 and case["incongruent"], case


@pytest.mark.slow
def test_eval_fusion_command(tmp_path, capsys):
    pytest.importorskip("ai_edge_litert")
    from attune.cli import main

    out = tmp_path / "fusion.json"
    assert main(["eval", "fusion", "--json", str(out)]) == 0
    full = json.loads(out.read_text())
    printed = json.loads(capsys.readouterr().out)
    assert "cases" in full and "cases" not in printed  # the summary unless --cases
    assert printed["pass_rate"] == full["pass_rate"] == 1.0
    assert len(full["cases"]) == len(FACES) * sum(len(t) for t in UTTERANCES.values())
