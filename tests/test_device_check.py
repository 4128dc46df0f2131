"""The device check (issue 21) runs here as a CPU dry run of the same code the GPU machine runs,
and what it would carry there fits the device tool's limit."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_dry_run_passes_every_check_on_the_cpu(tmp_path: Path):
    env = {**os.environ, "PY": str(ROOT / ".venv" / "bin" / "python"), "DEVICE": "cpu",
           "QUICK": "1", "OUT": str(tmp_path)}  # fmt: skip
    if not Path(env["PY"]).is_file():
        import sys

        env["PY"] = sys.executable
    proc = subprocess.run(
        ["bash", "scripts/device-check.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "device_check.json").read_text())
    assert report["device"] == "cpu" and report["ok"] is True
    checks = report["checks"]
    assert set(checks) == {"warp", "encoder", "llm", "runtimes"}
    assert all(c["status"] == "ok" for c in checks.values()), checks
    assert checks["warp"]["sizes"]["512"]["mean_abs_diff"] <= 0.5  # torch warp = OpenCV's
    assert checks["encoder"]["weights"].startswith("random")  # labelled: not the real weights
    assert checks["llm"]["tokens_per_s_batch1"] > 0


def test_a_cuda_run_without_a_gpu_says_so():
    import torch

    from attune.bench.device import run_checks

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    report = run_checks("cuda", quick=True)
    assert report["error"] == "torch sees no CUDA device" and not report["checks"]


def test_what_travels_fits_the_carry_limit():
    from attune.bench.device import CARRY_LIMIT, prepare

    report = prepare()
    assert report["fits"] and report["total_bytes"] <= CARRY_LIMIT
    assert (ROOT / ".device" / "minilm" / "tokenizer.json").is_file()
