"""``attune study bias`` end to end: released-format predictions scored with intervals, and a
real study through the ``openai`` backend against a real llama.cpp server on loopback, killed
mid-run and resumed from the answer cache without asking again."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from attune.taxonomy import STRATEGIES, normalize_strategy
from strategies.metrics import evaluate

#: The label list of the published metric script (it lower-cases both fields and refuses a
#: file with any other prediction).
PUBLISHED_LABELS = [s.value.lower() for s in STRATEGIES]


def _attune(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "attune.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _released_file(path: Path) -> list[dict[str, str]]:
    """A released-format file over 12 dialogues (situation = dialogue), hand-made labels."""
    rows = []
    names = ["Question", "Reflection of Feelings", "Affirmation and Reassurance", "Others"]
    for d in range(12):
        for t in range(5):
            gold = names[(d + t) % 4]
            pred = names[(d * t) % 4] if t % 2 else gold
            rows.append(
                {
                    "sample_id": str(len(rows)),
                    "context": "seeker\n- Utterance: ...",
                    "strg_gold": gold,
                    "strg_pred": pred,
                    "situation": f"situation {d}",
                    "problem_type": "job crisis",
                    "emotion_type": "sadness",
                }
            )
    path.write_text(json.dumps(rows), encoding="utf-8")
    return rows


def test_predictions_file_scored_with_intervals_over_its_dialogues(tmp_path: Path):
    rows = _released_file(tmp_path / "results.json")
    out = _attune(
        "study", "bias", "--predictions", str(tmp_path / "results.json"), "--bootstrap", "300"
    )
    expected = evaluate(
        [normalize_strategy(r["strg_gold"]) for r in rows],
        [normalize_strategy(r["strg_pred"]) for r in rows],
    )
    summary = json.loads(out.strip().splitlines()[-1])["results.json"]
    assert summary["Q"] == pytest.approx(expected.q, abs=1e-4)
    assert summary["B"] == pytest.approx(expected.bias, abs=1e-4)
    lo, hi = summary["ci"]["Q"]
    assert lo < expected.q < hi
    # written as a report too, grouped by the situation (12 dialogues)
    _attune(
        "study",
        "bias",
        "--predictions",
        str(tmp_path / "results.json"),
        str(tmp_path / "results.json"),
        "--out",
        str(tmp_path / "report"),
        "--bootstrap",
        "100",
        "--rounds",
        "100",
    )
    report = json.loads((tmp_path / "report" / "study.json").read_text())
    assert report["cells"][0]["ci"]["clusters"] == 12
    assert report["cells"][0]["unit"].startswith("situation")
    assert report["paired"][0]["Q"]["difference"] == 0.0  # a file against itself
    for plot in ("preferences.png", "q_vs_b.png"):
        assert (tmp_path / "report" / plot).read_bytes()[:4] == b"\x89PNG"


@pytest.fixture
def llama_server():
    pytest.importorskip("xllamacpp")
    pytest.importorskip("openai")
    from attune.errors import ModelNotFoundError
    from modalities.llm.llamacpp import serve_gguf
    from modalities.llm.models import bundled_gguf_path

    try:
        model = bundled_gguf_path()
    except ModelNotFoundError as exc:
        pytest.skip(str(exc))
    server, base_url = serve_gguf(model, threads=1, context_size=4096, parallel=2)
    with server:
        yield base_url


def _cached(path: Path) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        try:
            return int(db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


@pytest.mark.slow
def test_study_through_a_real_openai_server_resumes_from_the_cache(
    tmp_path: Path, llama_server: str, data_dir: Path
):
    profile = tmp_path / "server.toml"
    profile.write_text(
        f'[backends]\nllm = "openai"\n[llm]\nbase_url = "{llama_server}"\n'
        'model = "smollm2-135m"\ntimeout_s = 120\n',
        encoding="utf-8",
    )
    cache = tmp_path / "answers.sqlite"
    args = [
        "study",
        "bias",
        "--data",
        str(data_dir / "esconv" / "valid.jsonl"),
        "--limit",
        "4",
        "--methods",
        "direct,self-refine,negative",
        "--planners",
        "llm,prior",
        "--profile",
        f"server={profile}",
        "--cache",
        str(cache),
        "--concurrency",
        "2",
        "--rate",
        "20",
        "--bootstrap",
        "100",
        "--rounds",
        "100",
        "--no-progress",
        "--no-plots",
    ]
    # 4 turns: 4 direct answers, 4 revisions (their first step is the direct answer), 4 negative
    total = 12
    first = subprocess.Popen(
        [sys.executable, "-m", "attune.cli", *args, "--out", str(tmp_path / "run1")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while _cached(cache) < 3 and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)  # as hard as an interruption gets
    first.wait(timeout=30)
    kept = _cached(cache)
    assert 3 <= kept < total, kept
    assert not (tmp_path / "run1" / "study.json").exists()

    out = _attune(*args, "--out", str(tmp_path / "run2"))
    asked, from_cache = map(int, re.search(r"(\d+) asked, (\d+) from the cache", out).groups())
    assert asked == total - kept  # nothing asked twice
    assert from_cache >= kept
    assert _cached(cache) == total
    report = json.loads((tmp_path / "run2" / "study.json").read_text())
    cells = {c["cell"]: c for c in report["cells"]}
    assert set(cells) == {
        "prior",
        "server/llm:direct",
        "server/llm:self-refine",
        "server/llm:negative",
    }
    assert all(c["n"] == 4 for c in cells.values())
    assert report["profiles"]["server"].startswith("openai|http://127.0.0.1:")
    assert {t["cell"] for t in report["paired"]} == {
        "server/llm:self-refine",
        "server/llm:negative",
    }

    # a rerun asks nothing; its predictions equal the resumed run's
    out = _attune(*args, "--out", str(tmp_path / "run3"))
    assert re.search(r"\b0 asked, \d+ from the cache", out), out[-500:]
    for name in ("server__llm_direct.json", "server__llm_self-refine.json"):
        a = json.loads((tmp_path / "run2" / "predictions" / name).read_text())
        b = json.loads((tmp_path / "run3" / "predictions" / name).read_text())
        assert [r["strg_pred"] for r in a] == [r["strg_pred"] for r in b]
        # the published script would accept the file: every prediction is one of its labels
        assert all(r["strg_pred"].lower() in PUBLISHED_LABELS for r in a)
        assert all(r["strg_gold"].lower() in PUBLISHED_LABELS for r in a)
    table = (tmp_path / "run3" / "table.md").read_text()
    assert "| server/llm:direct | 4 |" in table and "Paired tests against direct" in table


@pytest.mark.slow
def test_replies_to_the_chosen_strategies_are_scored_and_cached(tmp_path: Path, data_dir: Path):
    args = [
        "study",
        "bias",
        "--data",
        str(data_dir / "esconv" / "valid.jsonl"),
        "--limit",
        "3",
        "--methods",
        "direct",
        "--replies",
        "3",
        "--cache",
        str(tmp_path / "c.sqlite"),
        "--bootstrap",
        "50",
        "--no-progress",
        "--no-plots",
    ]
    _attune(*args, "--out", str(tmp_path / "a"))
    first = json.loads((tmp_path / "a" / "study.json").read_text())["replies"][0]
    assert first["cell"] == "bundled/llm:direct"
    # the first 3 turns of valid each answer the seeker: one reply each
    assert first["n"] + first["crisis_left_out"] == 3
    assert first["generated_now"] == 3
    assert 0.0 <= first["adherence"] <= 1.0
    _attune(*args, "--out", str(tmp_path / "b"))
    again = json.loads((tmp_path / "b" / "study.json").read_text())["replies"][0]
    assert again["generated_now"] == 0 and again["adherence"] == first["adherence"]
