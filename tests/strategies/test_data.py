"""Loaders: both ESConv formats, predictions files, evaluation samples, and every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from attune.errors import InputError
from attune.taxonomy import Strategy
from strategies.data import (
    DataFormatError,
    load_dialogues,
    load_predictions,
    load_samples,
    stage_of,
)

SPLIT_DIALOGUE = {
    "emotion_type": "anxiety",
    "problem_type": "job crisis",
    "situation": "I may lose my job.",
    "dialog": [
        {"text": "Hello, how are you?", "speaker": "sys", "strategy": "Question"},
        {"text": "Hi. Not great.", "speaker": "usr"},
        {"text": "What is going on?", "speaker": "sys", "strategy": "Question"},
        {"text": "Work is scary.", "speaker": "usr"},
        {"text": "I hear you.", "speaker": "usr"},
        {"text": "That sounds stressful.", "speaker": "sys", "strategy": "Reflection of Feelings"},
        {"text": "Maybe talk to HR?", "speaker": "sys", "strategy": "Providing Suggestions"},
        {"text": "Thanks.", "speaker": "usr"},
        {"text": "Take care!", "speaker": "sys", "strategy": "Others"},
    ],
}


def original_shape(dialogue: dict) -> dict:
    turns = []
    for t in dialogue["dialog"]:
        if t["speaker"] == "usr":
            turns.append({"speaker": "seeker", "content": t["text"], "annotation": {}})
        else:
            turns.append(
                {
                    "speaker": "supporter",
                    "content": t["text"],
                    "annotation": {"strategy": t["strategy"]},
                }
            )
    return {**{k: v for k, v in dialogue.items() if k != "dialog"}, "dialog": turns}


def write_jsonl(path: Path, dialogues: list[dict]) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in dialogues), encoding="utf-8")
    return path


def test_split_jsonl_samples(tmp_path: Path):
    path = write_jsonl(tmp_path / "d.jsonl", [SPLIT_DIALOGUE, SPLIT_DIALOGUE])
    (dialogue, _) = load_dialogues(path)
    assert dialogue.emotion_type == "anxiety" and len(dialogue.turns) == 9
    samples = load_samples(path)
    # per dialogue: the opening supporter turn (before any seeker) is not a sample; 4 are
    assert len(samples) == 8
    first = samples[0]
    assert first.gold is Strategy.QUESTION and first.turn_index == 2
    assert [s for s, _ in first.context.dialogue] == ["supporter", "seeker"]
    assert first.context.previous_strategies == (Strategy.QUESTION,)
    assert first.context.background() == "anxiety; job crisis. I may lose my job."
    consecutive = samples[2]  # the second of two supporter turns in a row
    assert consecutive.gold is Strategy.SUGGESTIONS
    assert consecutive.context.dialogue[-1] == ("supporter", "That sounds stressful.")
    assert consecutive.context.previous_strategies[-1] is Strategy.REFLECTION
    # thirds of a 9-turn dialogue: turns 0-2, 3-5, 6-8
    assert [s.stage for s in samples[:4]] == [0, 1, 2, 2]
    assert samples[4].dialogue_index == 1
    assert len(load_samples(path, limit=3)) == 3


def test_original_single_file_json_reads_the_same(tmp_path: Path):
    split = write_jsonl(tmp_path / "d.jsonl", [SPLIT_DIALOGUE])
    original = tmp_path / "ESConv.json"
    original.write_text(json.dumps([original_shape(SPLIT_DIALOGUE)], indent=2), encoding="utf-8")
    a, b = load_samples(split), load_samples(original)
    assert [(s.gold, s.context.dialogue, s.stage) for s in a] == [
        (s.gold, s.context.dialogue, s.stage) for s in b
    ]


def test_predictions_file(tmp_path: Path):
    path = tmp_path / "preds.json"
    rows = [
        {"strg_gold": "Reflection of Feelings", "strg_pred": "Questions", "context": "c"},
        {"strg_gold": "Others", "strg_pred": "Approval and Reassurance", "emotion_type": "anger"},
    ]
    path.write_text(json.dumps(rows, indent=4), encoding="utf-8")
    loaded = load_predictions(path)
    assert [(r.gold, r.pred) for r in loaded] == [
        (Strategy.REFLECTION, Strategy.QUESTION),
        (Strategy.OTHERS, Strategy.AFFIRMATION),
    ]
    assert loaded[0].context == "c" and loaded[1].emotion_type == "anger"
    assert loaded[0].line == 2 and loaded[1].line == 7


def test_stage_of():
    assert [stage_of(i, 6) for i in range(6)] == [0, 0, 1, 1, 2, 2]
    assert stage_of(0, 0) == 0 and stage_of(5, 1) == 2


# --- bad input: each names the file and the line ----------------------------------------------


def bad(path: Path, loader=load_dialogues) -> DataFormatError:
    with pytest.raises(DataFormatError) as err:
        loader(path)
    return err.value


def test_malformed_json_line(tmp_path: Path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(SPLIT_DIALOGUE) + "\n{not json\n", encoding="utf-8")
    err = bad(path)
    assert str(err).startswith(f"{path}:2: malformed JSON") and err.line == 2


def test_malformed_json_list(tmp_path: Path):
    path = tmp_path / "d.json"
    path.write_text('[\n {"dialog": []},\n {"dialog": [}\n]\n', encoding="utf-8")
    assert str(bad(path)).startswith(f"{path}:3: malformed JSON")
    path.write_text('[\n {"dialog": []}\n {"dialog": []}\n]\n', encoding="utf-8")
    assert str(bad(path)).startswith(f"{path}:3: malformed JSON: expected ','")


def test_unknown_strategy_label_in_jsonl(tmp_path: Path):
    broken = json.loads(json.dumps(SPLIT_DIALOGUE))
    broken["dialog"][2]["strategy"] = "Advice"
    path = write_jsonl(tmp_path / "d.jsonl", [SPLIT_DIALOGUE, SPLIT_DIALOGUE, broken])
    err = bad(path)
    assert str(err).startswith(f"{path}:3: ") and "'Advice'" in str(err)


def test_unknown_strategy_label_in_a_multiline_json_points_at_its_line(tmp_path: Path):
    broken = original_shape(SPLIT_DIALOGUE)
    broken["dialog"][5]["annotation"]["strategy"] = "Greeting"
    path = tmp_path / "ESConv.json"
    text = json.dumps([original_shape(SPLIT_DIALOGUE), broken], indent=2)
    path.write_text(text, encoding="utf-8")
    expected = next(
        n for n, line in enumerate(text.splitlines(), 1) if '"strategy": "Greeting"' in line
    )
    assert expected > 100  # deep inside the second dialogue
    err = bad(path)
    assert err.line == expected and "'Greeting'" in str(err)


def test_empty_files(tmp_path: Path):
    for content in ("", "\n  \n", "[]", "[\n]\n"):
        path = tmp_path / "empty.jsonl"
        path.write_text(content, encoding="utf-8")
        err = bad(path)
        assert str(err).startswith(f"{path}:1: empty file")
        assert bad(path, load_predictions).line == 1


def test_other_bad_inputs(tmp_path: Path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"situation": "x"}\n', encoding="utf-8")
    assert "no 'dialog' list" in str(bad(path))
    path.write_text('{"dialog": [{"text": "hi", "speaker": "bot"}]}\n', encoding="utf-8")
    assert "unknown speaker 'bot'" in str(bad(path))
    path.write_text('{"dialog": [{"text": "hi", "speaker": "sys"}]}\n', encoding="utf-8")
    assert "without a strategy" in str(bad(path))
    path.write_text('{"dialog": [{"speaker": "usr"}]}\n', encoding="utf-8")
    assert "no 'text' or 'content'" in str(bad(path))
    path.write_text("[1, 2]", encoding="utf-8")
    assert "expected a JSON object" in str(bad(path))
    path.write_bytes(b'{"dialog": []}\n\xff\xfe\n')
    assert str(bad(path)).startswith(f"{path}:2: not UTF-8")
    preds = tmp_path / "p.json"
    preds.write_text('[{"strg_gold": "Question", "strg_pred": "Question"}]', encoding="utf-8")
    assert "predictions file" in str(bad(preds))
    with pytest.raises(InputError, match="not found"):
        load_dialogues(tmp_path / "missing.jsonl")


def test_bad_predictions(tmp_path: Path):
    path = tmp_path / "p.json"
    rows = [{"strg_gold": "Question", "strg_pred": "Question"}] * 2
    rows.append({"strg_gold": "Question", "strg_pred": "I would ask a question"})
    path.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    err = bad(path, load_predictions)
    # "[", then 4 lines per row: the third row's strg_pred is on line 1 + 4 + 4 + 3 = 12
    assert err.line == 12 and "strg_pred" in str(err) and "'I would ask a question'" in str(err)
    path.write_text('[{"strg_pred": "Question"}]', encoding="utf-8")
    assert "missing field 'strg_gold'" in str(bad(path, load_predictions))


def test_the_shipped_data_loads(data_dir: Path):
    samples = load_samples(data_dir / "esconv" / "valid.jsonl")
    assert len(samples) == 2616
    assert {s.stage for s in samples} == {0, 1, 2}
