"""The strategy commands (eval strategies, eval bias, train planner, train correction)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ATTUNE = [sys.executable, "-m", "attune.cli"]


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``attune ARGS`` with a private state dir and extra environment variables."""
    full_env = {**os.environ, "ATTUNE_PATHS__STATE_DIR": str(tmp_path / "state"), **env}
    command = [*ATTUNE, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=full_env)


def slice_of(source: Path, out: Path, dialogues: int) -> Path:
    lines = source.read_text("utf-8").splitlines()[:dialogues]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def test_eval_strategies_prior_json_and_plot(data_dir: Path, tmp_path: Path):
    valid = data_dir / "esconv" / "valid.jsonl"
    out, plot = tmp_path / "m.json", tmp_path / "p.png"
    proc = run(
        tmp_path,
        *("eval", "strategies", "--data", str(valid), "--planner", "prior", "--limit", "80"),
        *("--json", str(out), "--plot", str(plot), "--no-progress"),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Q=" in proc.stdout and "B=" in proc.stdout and "Reflection of feelings" in proc.stdout
    metrics = json.loads(out.read_text())
    assert metrics["n"] == 80 and metrics["planner"] == "prior" and not metrics["corrected"]
    assert {"Q", "weighted_f1", "B", "preference", "f1", "stages"} <= set(metrics)
    preference = metrics["preference"]
    assert len(preference) == 8 and sum(preference.values()) == pytest.approx(8)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_bias_on_a_predictions_file(tmp_path: Path):
    rows = [{"strg_gold": "Question", "strg_pred": "Question"}] * 6
    rows += [{"strg_gold": "Others", "strg_pred": "Question"}] * 2
    rows += [{"strg_gold": "Others", "strg_pred": "Others", "context": "x"}] * 2
    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps(rows), encoding="utf-8")
    out = tmp_path / "bias.json"
    proc = run(tmp_path, "eval", "bias", "--predictions", str(preds), "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads(out.read_text())
    # Question: tp 6, fp 2 -> F1 12/14; Others: tp 2, fn 2 -> F1 4/6; macro over the 2 present
    assert metrics["Q"] == pytest.approx(100 * (12 / 14 + 4 / 6) / 2, abs=1e-3)
    assert metrics["n"] == 10 and "unparsed" not in metrics
    # Question is predicted wrongly and never missed: it gets the largest preference
    assert max(metrics["preference"], key=metrics["preference"].get) == "Question"


def test_bad_inputs_are_clear_errors(tmp_path: Path):
    preds = tmp_path / "preds.json"
    preds.write_text('[\n{"strg_gold": "Question", "strg_pred": "Advice"}\n]', encoding="utf-8")
    proc = run(tmp_path, "eval", "bias", "--predictions", str(preds))
    assert proc.returncode == 2 and f"{preds}:2:" in proc.stderr and "'Advice'" in proc.stderr
    data = tmp_path / "d.jsonl"
    data.write_text('{"dialog": []}\n{oops\n', encoding="utf-8")
    proc = run(tmp_path, "eval", "strategies", "--data", str(data), "--planner", "prior")
    assert proc.returncode == 2 and f"{data}:2: malformed JSON" in proc.stderr
    data.write_text("", encoding="utf-8")
    proc = run(tmp_path, "eval", "strategies", "--data", str(data), "--planner", "prior")
    assert proc.returncode == 2 and "empty file" in proc.stderr
    for result in (proc,):
        assert "Traceback" not in result.stderr


def test_correct_needs_a_fitted_correction(data_dir: Path, tmp_path: Path):
    valid = data_dir / "esconv" / "valid.jsonl"
    proc = run(
        tmp_path, "eval", "strategies", "--data", str(valid), "--planner", "llm", "--correct"
    )
    assert proc.returncode == 2 and "attune train correction --planner llm" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_train_correction_then_use_it(data_dir: Path, tmp_path: Path):
    small = slice_of(data_dir / "esconv" / "valid.jsonl", tmp_path / "small.jsonl", 12)
    table = tmp_path / "corr.json"
    proc = run(
        tmp_path,
        *("train", "correction", "--planner", "prior", "--data", str(small)),
        *("--out", str(table), "--no-progress"),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "prior" in json.loads(table.read_text())["planners"]
    env_run = run(
        tmp_path,
        *("eval", "strategies", "--data", str(small), "--planner", "prior", "--correct"),
        ATTUNE_PLANNER__CORRECTION_PATH=str(table),
    )
    assert env_run.returncode == 0, env_run.stderr[-2000:]
    assert "prior+corrected" in env_run.stdout
    assert "fitted on small.jsonl" in env_run.stderr  # in-sample figures are flagged


@pytest.mark.slow
def test_train_planner_then_evaluate_it_corrected(data_dir: Path, tmp_path: Path):
    train = slice_of(data_dir / "esconv" / "train.jsonl", tmp_path / "train.jsonl", 4)
    valid = slice_of(data_dir / "esconv" / "valid.jsonl", tmp_path / "valid.jsonl", 2)
    out = tmp_path / "artifact"
    proc = run(
        tmp_path,
        *("train", "planner", "--train", str(train), "--valid", str(valid)),
        *("--out", str(out), "--no-progress"),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert {"valid", "valid_corrected"} <= set(summary)
    assert {p.name for p in out.iterdir()} == {
        "planner_head.npz",
        "planner_head.json",
        "planner_corrections.json",
    }
    proc = run(
        tmp_path,
        *("eval", "strategies", "--data", str(valid), "--planner", "trained", "--correct"),
        *("--json", str(tmp_path / "t.json")),
        ATTUNE_PLANNER__MODEL_PATH=str(out / "planner_head.npz"),
        ATTUNE_PLANNER__CORRECTION_PATH=str(out / "planner_corrections.json"),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads((tmp_path / "t.json").read_text())
    assert metrics["planner"] == "trained+corrected"
    # the figures of the freshly trained head are the ones its card recorded
    assert metrics["Q"] == pytest.approx(summary["valid_corrected"]["Q"], abs=1e-3)
    assert "planner trained+corrected" in proc.stderr  # the progress bar
