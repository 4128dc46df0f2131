"""A LoRA adapter for the bundled SmolLM2, trained on CPU and written as a llama.cpp GGUF adapter.

Method (``attune train replies``):

- The base is the bundled GGUF itself, dequantised by transformers, so the adapter is trained
  against exactly the weights llama.cpp runs.
- Low-rank adapters (rank :data:`RANK`, alpha :data:`ALPHA`) on the value, output and MLP
  projections of the top :data:`TOP_LAYERS` layers; nothing below them needs gradients, which is
  what makes a CPU run affordable. Query and key projections are left alone: llama.cpp stores
  them permuted for its rotary embedding, and an adapter on them would need the same permutation.
- Loss on the reply tokens only (and the end-of-turn token), over the prompt of
  :mod:`agent.tuning.format`. AdamW, linear warm-up then cosine decay, batches of similar length.
- A checkpoint (adapter, optimiser, step, shuffled order) every ``checkpoint_every`` steps: a run
  that is cut off resumes where it stopped.

The adapter file holds ``blk.N.<tensor>.weight.lora_a`` / ``.lora_b`` pairs in float16 with
``adapter.type = "lora"`` and ``adapter.lora.alpha``, the layout llama.cpp loads with
``--lora``. Trained on ESConv: the file is CC BY-NC 4.0.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agent.tuning.format import ReplyExample

log = logging.getLogger(__name__)

RANK = 16
ALPHA = 32.0
TOP_LAYERS = 10
#: HF module name -> llama.cpp tensor name inside ``blk.N``.
TARGETS = {
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
MAX_REPLY_TOKENS = 64
MAX_PROMPT_TOKENS = 320


@dataclass
class TrainConfig:
    """What a run does; saved beside the checkpoint so that a resumed run is the same run."""

    rank: int = RANK
    alpha: float = ALPHA
    top_layers: int = TOP_LAYERS
    lr: float = 3e-4
    batch_size: int = 8
    epochs: float = 1.0
    warmup_steps: int = 30
    seed: int = 0
    checkpoint_every: int = 25
    threads: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _lora_linear_class() -> Any:
    import torch
    from torch import nn

    class LoRALinear(nn.Module):
        """``base(x) + (alpha / r) * B(A(x))`` with the base frozen; B starts at zero."""

        def __init__(self, base: nn.Linear, rank: int, alpha: float) -> None:
            super().__init__()
            self.base = base
            self.scale = alpha / rank
            self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))
            self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
            nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.base(x) + (x @ self.lora_a.T @ self.lora_b.T) * self.scale

    return LoRALinear


def attach_lora(model: Any, rank: int, alpha: float, top_layers: int) -> dict[str, Any]:
    """Freeze ``model`` and put adapters on :data:`TARGETS` of its top ``top_layers`` layers.

    Returns ``{"blk.N.<tensor>": module}`` keyed by llama.cpp tensor base names."""
    lora_linear = _lora_linear_class()
    for p in model.parameters():
        p.requires_grad_(False)
    layers = model.model.layers
    adapters: dict[str, Any] = {}
    for index in range(max(0, len(layers) - top_layers), len(layers)):
        layer = layers[index]
        for hf_name, gguf_name in TARGETS.items():
            parent_name, child = hf_name.split(".")
            parent = getattr(layer, parent_name)
            wrapped = lora_linear(getattr(parent, child), rank, alpha)
            setattr(parent, child, wrapped)
            adapters[f"blk.{index}.{gguf_name}"] = wrapped
    return adapters


def adapter_state(adapters: dict[str, Any]) -> dict[str, Any]:
    """The adapter weights as tensors keyed ``<name>.lora_a`` / ``<name>.lora_b``."""
    state = {}
    for name, module in adapters.items():
        state[f"{name}.lora_a"] = module.lora_a.detach().clone()
        state[f"{name}.lora_b"] = module.lora_b.detach().clone()
    return state


def load_adapter_state(adapters: dict[str, Any], state: dict[str, Any]) -> None:
    """Copy saved adapter weights into ``adapters`` (the inverse of :func:`adapter_state`)."""
    import torch

    with torch.no_grad():
        for name, module in adapters.items():
            module.lora_a.copy_(state[f"{name}.lora_a"])
            module.lora_b.copy_(state[f"{name}.lora_b"])


def write_gguf_adapter(
    path: Path, state: dict[str, Any], alpha: float, metadata: dict[str, str] | None = None
) -> Path:
    """Write adapter weights as a llama.cpp LoRA GGUF (float16)."""
    import gguf

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    writer = gguf.GGUFWriter(str(tmp), "llama")
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(alpha))
    for key, value in (metadata or {}).items():
        writer.add_string(f"attune.{key}", value)
    for name in sorted(state):
        base, part = name.rsplit(".", 1)
        array = state[name].detach().cpu().numpy().astype(np.float16)
        writer.add_tensor(f"{base}.weight.{part}", array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(path)
    return path


def read_gguf_adapter(path: Path) -> tuple[dict[str, np.ndarray], float]:
    """Adapter tensors (as float32 arrays keyed like :func:`adapter_state`) and alpha."""
    import gguf

    reader = gguf.GGUFReader(str(path))
    field_ = reader.fields["adapter.lora.alpha"]
    alpha = float(field_.parts[field_.data[0]][0])
    state = {}
    for tensor in reader.tensors:
        base, part = tensor.name.rsplit(".weight.", 1)
        shape = tuple(int(n) for n in reversed(tensor.shape))
        state[f"{base}.{part}"] = np.asarray(tensor.data, dtype=np.float32).reshape(shape)
    return state, alpha


# --- training -----------------------------------------------------------------------------------


def encode_example(tokenizer: Any, example: ReplyExample) -> tuple[list[int], int] | None:
    """Token ids of prompt + reply + end of turn, and where the reply starts; ``None`` when the
    prompt alone is too long."""
    messages = [{"role": m.role, "content": m.content} for m in example.messages()]
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    if len(prompt_ids) > MAX_PROMPT_TOKENS:
        # keep the system message's tokens and the end: drop whole earlier messages first
        return None
    reply_ids = tokenizer(example.reply, add_special_tokens=False)["input_ids"][:MAX_REPLY_TOKENS]
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    return prompt_ids + reply_ids + [end], len(prompt_ids)


def _batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Batches of similar length (less padding), in random order."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def train_adapter(
    model: Any,
    tokenizer: Any,
    examples: Sequence[ReplyExample],
    config: TrainConfig,
    checkpoint_dir: Path,
    *,
    progress: Callable[[dict[str, float]], None] | None = None,
    max_seconds: float | None = None,
) -> dict[str, Any]:
    """Train adapters on ``examples``, resuming from ``checkpoint_dir`` when it holds a run.

    Returns the adapter state and the run's record (steps, tokens, seconds, loss curve)."""
    import torch

    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    adapters = attach_lora(model, config.rank, config.alpha, config.top_layers)
    params = [p for m in adapters.values() for p in (m.lora_a, m.lora_b)]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)

    encoded = [e for e in (encode_example(tokenizer, ex) for ex in examples) if e is not None]
    rng = random.Random(config.seed)
    epoch_batches = _batches([len(ids) for ids, _ in encoded], config.batch_size, rng)
    total_steps = max(1, int(len(epoch_batches) * config.epochs))
    schedule = (epoch_batches * math.ceil(config.epochs))[:total_steps]

    checkpoint = checkpoint_dir / "checkpoint.pt"
    record: dict[str, Any] = {"steps": 0, "tokens": 0, "seconds": 0.0, "losses": []}
    if checkpoint.is_file():
        saved = torch.load(checkpoint, weights_only=False)
        ignored = ("threads", "epochs")
        same = {k: v for k, v in asdict(config).items() if k not in ignored}
        if {k: v for k, v in saved["config"].items() if k not in ignored} != same:
            raise ValueError(
                f"{checkpoint} was made by another configuration; remove it to start over"
            )
        record = saved["record"]
        if saved["config"]["epochs"] != config.epochs:
            # Only a finished run may be extended (more epochs, a new warmup and cosine from
            # where it stopped); a shorter one would silently drop its last steps.
            saved_total = max(1, int(len(epoch_batches) * saved["config"]["epochs"]))
            if config.epochs < saved["config"]["epochs"] or record["steps"] < saved_total:
                raise ValueError(
                    f"{checkpoint} holds a run of {saved['config']['epochs']} epochs at step "
                    f"{record['steps']}: finish it, or extend a finished run to more epochs"
                )
            record.setdefault("restarts", []).append(record["steps"])
            log.info("extending a finished run of %d steps to %d", record["steps"], total_steps)
        load_adapter_state(adapters, saved["adapters"])
        optimizer.load_state_dict(saved["optimizer"])
        log.info("resuming at step %d of %d", record["steps"], total_steps)
    restarts = [0, *record.get("restarts", [])]

    def lr_at(step: int) -> float:
        start = max(r for r in restarts if r <= step)
        step -= start
        if step < config.warmup_steps:
            return config.lr * (step + 1) / config.warmup_steps
        span = max(1, total_steps - start - config.warmup_steps)
        done = (step - config.warmup_steps) / span
        return config.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, done)))

    def save() -> None:
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        tmp = checkpoint.with_suffix(".tmp")
        torch.save(
            {
                "config": asdict(config),
                "adapters": adapter_state(adapters),
                "optimizer": optimizer.state_dict(),
                "record": record,
            },
            tmp,
        )
        tmp.replace(checkpoint)

    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    model.train()
    started = time.perf_counter()
    while record["steps"] < total_steps:
        step = record["steps"]
        batch = [encoded[i] for i in schedule[step]]
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (ids, reply_start) in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            labels[row, reply_start : len(ids)] = torch.tensor(ids[reply_start:])
            mask[row, : len(ids)] = 1
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step)
        t0 = time.perf_counter()
        out = model(input_ids=input_ids, attention_mask=mask, labels=labels)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        record["steps"] = step + 1
        record["tokens"] += int(mask.sum())
        record["seconds"] += time.perf_counter() - t0
        record["losses"].append(round(float(out.loss.detach()), 4))
        if progress is not None:
            progress(
                {
                    "step": step + 1,
                    "of": total_steps,
                    "loss": float(out.loss.detach()),
                    "tokens_per_s": record["tokens"] / max(record["seconds"], 1e-9),
                }
            )
        out_of_time = max_seconds is not None and time.perf_counter() - started > max_seconds
        if (step + 1) % config.checkpoint_every == 0 or step + 1 == total_steps or out_of_time:
            save()
        if out_of_time:
            break
    model.eval()
    record["total_steps"] = total_steps
    record["examples"] = len(encoded)
    return {
        "adapters": adapter_state(adapters),
        "record": record,
        "done": record["steps"] >= total_steps,
    }


def save_record(path: Path, record: dict[str, Any]) -> None:
    """Write a run's record as JSON."""
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
