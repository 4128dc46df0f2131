"""``attune train replies``: fit the reply adapter on ESConv train and write it as GGUF.

Runs resumably: the checkpoint lives in ``<state_dir>/tuning/replies/``; run the same command
again after an interruption and it goes on from the last checkpoint.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from pathlib import Path
from typing import Any

from agent.tuning import ADAPTER_PATH
from agent.tuning.format import reply_examples
from agent.tuning.lora import TrainConfig, train_adapter, write_gguf_adapter
from strategies.data import load_dialogues

log = logging.getLogger(__name__)


LICENCE = "CC BY-NC 4.0 (trained on ESConv, Liu et al. 2021)"


def train_replies(
    train_path: Path,
    checkpoint_dir: Path,
    out: Path = ADAPTER_PATH,
    config: TrainConfig | None = None,
    max_seconds: float | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Train (or resume) and, when the run is complete, write the adapter and its card."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from modalities.llm.models import resolve_model_source

    config = config or TrainConfig()
    directory, gguf_file = resolve_model_source(None)
    tokenizer = AutoTokenizer.from_pretrained(str(directory), gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_pretrained(
        str(directory), gguf_file=gguf_file, dtype=torch.float32
    )
    examples = list(reply_examples(load_dialogues(train_path)))
    if limit is not None:
        examples = examples[:limit]
    last = [0.0]

    def progress(p: dict[str, float]) -> None:
        if time.monotonic() - last[0] > 30 or p["step"] == p["of"]:
            last[0] = time.monotonic()
            log.info(
                "step %d/%d loss %.3f (%.0f tokens/s)",
                p["step"], p["of"], p["loss"], p["tokens_per_s"],
            )  # fmt: skip

    result = train_adapter(
        model, tokenizer, examples, config, checkpoint_dir,
        progress=progress, max_seconds=max_seconds,
    )  # fmt: skip
    record = result["record"]
    card = {
        "base": gguf_file,
        "data": f"{train_path.name}: {record['examples']} supporter utterances answering a seeker",
        "licence": LICENCE,
        "config": {k: v for k, v in config.__dict__.items() if k != "extra"},
        "steps": record["steps"],
        "total_steps": record.get("total_steps"),
        "restarts": record.get("restarts", []),
        "tokens": record["tokens"],
        "train_seconds": round(record["seconds"], 1),
        "machine": f"{platform.machine()}, torch threads {torch.get_num_threads()}",
        "final_loss_mean_of_last_50": round(
            sum(record["losses"][-50:]) / max(1, len(record["losses"][-50:])), 4
        ),
        "first_loss_mean_of_first_50": round(
            sum(record["losses"][:50]) / max(1, len(record["losses"][:50])), 4
        ),
    }
    if result["done"]:
        write_gguf_adapter(
            out, result["adapters"], config.alpha,
            {"licence": LICENCE, "base": str(gguf_file)},
        )  # fmt: skip
        card_path = out.with_suffix(".json")  # beside the adapter: its own card, never another's
        existing = json.loads(card_path.read_text()) if card_path.is_file() else {}
        existing.update({"training": card})
        card_path.write_text(json.dumps(existing, indent=2) + "\n")
    return {"done": result["done"], "card": card, "adapter": str(out) if result["done"] else None}
