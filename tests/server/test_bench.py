"""The load benchmark runs end to end (tiny: a few sessions for a second, the fake LLM)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent import load_settings
from attune.bench.server import run_server_bench

pytestmark = pytest.mark.slow


def test_server_bench_reports_throughput_latency_and_no_errors(tmp_path: Path):
    settings = load_settings(paths={"state_dir": tmp_path})
    figures = run_server_bench(settings, sessions=(3,), seconds=1.0, fake_llm=True)
    run = figures["sessions"]["3"]
    assert run["errors"] == 0 and run["turns"] >= 3
    assert run["turns_per_s"] > 0 and run["latency_ms"]["p95"] >= run["latency_ms"]["p50"] > 0
    assert figures["llm"] == "canned (fake)"


def test_the_soak_reports_memory_storage_and_the_image_probe(tmp_path: Path):
    from attune.bench.server import run_soak_bench

    settings = load_settings(paths={"state_dir": tmp_path})
    soak = run_soak_bench(settings, sessions=2, turns=6, image_clients=2, warm_up=2)
    assert soak["turns"] == 6 and soak["errors"] == 0
    assert soak["rss_mb"]["end"] > 0 and soak["stored_bytes_per_turn"] > 0
    assert soak["checkpoints_per_turn"] == 1.0  # one checkpoint per turn, not one per node
    assert soak["images"]["answers"] == ["image_too_large"] * 2
