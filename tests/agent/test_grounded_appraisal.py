"""The grounded chain of empathy over the real models: the background classifier on ESConv
valid, ``attune eval appraisal``, and a turn of the default stack whose chain is about the
person."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent import Attune, load_settings

ESCONV = Path(__file__).resolve().parents[3] / "shared" / "data" / "esconv"


@pytest.mark.slow
def test_the_background_classifier_reads_the_problem_well_above_the_majority(embedder):
    from strategies.background import BackgroundClassifier, evaluate_background
    from strategies.data import load_dialogues

    if not (ESCONV / "valid.jsonl").is_file():
        pytest.skip("ESConv valid not in ../shared/data")
    classifier = BackgroundClassifier.load(embedder)
    valid = load_dialogues(ESCONV / "valid.jsonl")[:80]
    report = evaluate_background(
        classifier, valid, {"problem": "ongoing depression", "emotion": "anxiety"}
    )
    # measured on all of valid after 3 messages: 0.69 (the majority class 0.23)
    after3 = report["problem_after_3"]
    assert after3["accuracy"] >= 0.55 and after3["accuracy"] >= after3["majority_accuracy"] + 0.3
    assert report["problem_after_1"]["accuracy"] < after3["accuracy"]  # more words, more sure
    guess = classifier.guess(["I got fired from my job yesterday and I can't pay rent."])
    assert guess.problem_type == "job crisis"


@pytest.mark.slow
def test_eval_appraisal_command(tmp_path, capsys):
    from attune.cli import main

    if not (ESCONV / "valid.jsonl").is_file():
        pytest.skip("ESConv valid not in ../shared/data")
    data = tmp_path / "v.jsonl"
    lines = (ESCONV / "valid.jsonl").read_text(encoding="utf-8").splitlines()[:30]
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "a.json"
    assert main(["eval", "appraisal", "--data", str(data), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["grounded_share"]["all_steps"] == 1.0
    assert report["rouge_l_vs_situation"]["n"] == 30
    assert report["rouge_l_vs_situation"]["cause"] > 0
    assert set(report["background"]) >= {"problem_after_1", "problem_after_3", "emotion_after_3"}
    assert "dialogues" in capsys.readouterr().err  # progress on stderr


@pytest.mark.slow
def test_the_default_turn_reads_the_person_with_no_llm_call_before_the_reply(tmp_path):
    settings = load_settings(paths={"state_dir": tmp_path})
    with Attune(settings) as bot:
        bot.turn("Hi.", "person")
        bot.turn("My sister stopped talking to me after the wedding.", "person")
        result = bot.turn("Thanks. I guess I just miss her.", "person")
    appraisal = result.appraisal
    assert appraisal is not None
    assert appraisal.sources["event"] == appraisal.sources["cause"] == "dialogue"
    text = f"{appraisal.event} {appraisal.cause}".lower()
    assert "their sister" in text, appraisal
    assert "support you" not in text and "i'm here" not in text
    assert "appraise_llm" not in result.timings_ms and result.timings_ms["appraise"] < 1000
