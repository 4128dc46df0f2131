"""The graded crisis detector: none / concern / crisis, from patterns, a classifier and context.

Tiers
-----
- **crisis**: stated intent, a plan or means, self-harm going on, ongoing abuse or danger, a
  threat to someone, a medical emergency. The turn gets the fixed safe reply with resources.
- **concern**: risk indicators without stated intent, plan or means (feeling like a burden,
  hopelessness, "can't go on", wanting to disappear, withdrawal after a loss, a past crisis).
  The normal empathetic reply runs and ends with a gentle, direct check-in
  (:attr:`SafetyAssessment.check_in`); the next message is read as the answer to it.
- **none**: everything else, ordinary sadness, anger and hyperbole included.

Method
------
1. **Patterns** (``patterns.py``): first-person regular expressions for direct crisis language
   (crisis; a report about the past, "when I was a teenager", is concern), and for the risk
   indicators (concern), matched sentence by sentence with idiom and accident exceptions.
2. **Classifier**: an ensemble of 3 one-hidden-layer networks with 7 classes (none, concern and
   the 5 crisis categories) over the shared embedder's sentence vectors (all-MiniLM-L6-v2 by
   default). (A MiniLM fine-tuned with LoRA, ``tuned.py``, reads the concern tier instead when
   its adapter is installed as ``data/safety_lora_minilm.npz``; none ships: see there.) It is
   fitted on the project-written bank ``data/crisis_examples.jsonl`` (crisis and concern
   examples written the way people type: informal, misspelt, several sentences, the risk said
   in the middle of something else; and hard negatives) plus real-text negatives (``corpus.py``):
   about 42,000 GoEmotions comments (Apache-2.0) and 13,500 ESConv train seeker messages, which
   make the shipped classifier CC BY-NC 4.0 (``attune train safety --no-esconv`` leaves them
   out). Classes are weighted so the negatives do not drown the bank. The message and each of
   its sentences are scored; the most alarming one counts.
3. **Calibration per category**: each crisis category has its own threshold, the lowest at
   which the out-of-fold false-positive rate stays under :data:`CRISIS_FPR` on the real-text
   negatives and :data:`BANK_CRISIS_FPR` on the bank's; the concern threshold (on the total
   risk probability) under :data:`CONCERN_FPR` and :data:`BANK_CONCERN_FPR`. The classifier
   alone can raise a crisis only above its category's threshold; weaker evidence is concern,
   whose cost when wrong is one gentle question.
4. **Context**: the last assistant (or supporter) message is read for a risk question ("are you
   having thoughts of ending your life?", "are you safe right now?"); an answer that opens
   with "yes" or "no" is read against it: "yes" to the first, "no" to the second is a crisis,
   "no" to the first is none, "I don't know" keeps the concern. Right after a crisis, the
   crisis thresholds are halved and a short "no" or "I don't know" stays a crisis even
   without the question in view (``previous``).

The evaluation sets (``data/eval_safety*.jsonl``) were written separately from the bank and are
never used to fit or tune; a test checks that none of their texts is in the bank. The ESConv
dialogues (``attune eval safety --conversations``) are for evaluation and review only.

The fitted classifier for the bundled MiniLM ships as ``data/classifier_minilm.npz``
(``attune train safety`` reproduces it from the bank and ``../shared/data``); it is
used when the embedder gives the same vectors for a few probe sentences and the bank is
unchanged. Otherwise the detector fits itself on the bank alone on first use (a few seconds on
CPU). Without an embedder only the patterns and the context rules run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from agent.safety.patterns import (
    answer_polarity,
    history_only,
    is_follow_up_answer,
    literalise,
    match_concern,
    match_patterns,
    normalise,
    risk_question,
    sentences,
)
from agent.safety.replies import compose_check_in
from agent.safety.resources import locale_resources
from agent.safety.tuned import TunedClassifier
from attune.errors import ConfigError
from attune.types import (
    CRISIS_CATEGORIES,
    ChatMessage,
    CrisisCategory,
    CrisisResource,
    SafetyAssessment,
    SafetyTier,
)

if TYPE_CHECKING:
    from attune.settings import AttuneSettings
    from modalities.text.base import Embedder

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
#: The project-written examples the classifier is fitted on (never the evaluation set).
BANK_PATH = DATA_DIR / "crisis_examples.jsonl"
#: The project-written labelled evaluation set (never used to fit or tune).
EVAL_PATH = DATA_DIR / "eval_safety.jsonl"
#: The classifier fitted for the bundled all-MiniLM-L6-v2.
SHIPPED_CLASSIFIER = DATA_DIR / "classifier_minilm.npz"

#: Classifier classes: index 0 is "no risk", 1 "concern", then the crisis categories.
CLASSES: tuple[str, ...] = ("none", "concern", *CRISIS_CATEGORIES)
#: Out-of-fold false-positive budgets on the real-text negatives (GoEmotions, ESConv seekers),
#: per crisis category and for concern ...
CRISIS_FPR = 0.001
CONCERN_FPR = 0.01
#: ... and on the bank's own hard negatives (idioms, fiction, everyday worries), which are few
#: and written to be confusable.
BANK_CRISIS_FPR = 0.01
BANK_CONCERN_FPR = 0.05
#: Never above these (a threshold above them would be too deaf), never below the floors.
MAX_CRISIS_THRESHOLD = 0.95
MAX_CONCERN_THRESHOLD = 0.5
#: The network: one hidden layer of this width (tanh-approximated GELU), trained with AdamW.
HIDDEN = 256
EPOCHS = 20
FOLDS = 3
#: Networks averaged (different seeds): smoother, less over-confident probabilities.
ENSEMBLE = 3
#: Sentences whose vectors identify the embedder the shipped classifier was fitted for.
PROBE_TEXTS = (
    "I want to talk to someone about my day.",
    "The weather is lovely this morning.",
    "Nobody would notice if I was gone.",
)
_MAX_SEGMENTS = 24
_PATTERN_CONFIDENCE = 1.0
#: Column of a medical emergency: it is a crisis or nothing (it has no gentle check-in), so its
#: probability does not count towards concern.
_MEDICAL = 2 + CRISIS_CATEGORIES.index("medical_emergency")
#: An answer to a risk question is read as one only when it is this short (words).
_ANSWER_WORDS = 16


# --- the example bank ---------------------------------------------------------------------------


def load_bank(path: Path | str = BANK_PATH) -> tuple[list[str], np.ndarray]:
    """The bank's texts and class indices (see :data:`CLASSES`)."""
    texts, labels = [], []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        texts.append(row["text"])
        labels.append(CLASSES.index(row["category"]))
    return texts, np.asarray(labels, dtype=np.int64)


def bank_digest(path: Path | str = BANK_PATH) -> str:
    """SHA-256 of the bank file (the shipped classifier records the bank it was fitted on)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --- the classifier -----------------------------------------------------------------------------


def concern_score(probs: np.ndarray) -> np.ndarray:
    """The classifier's evidence for the concern tier: the probability of any risk but a
    medical emergency (rows of class probabilities in, one score per row out)."""
    return np.asarray(1.0 - probs[..., 0] - probs[..., _MEDICAL])


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def _gelu(x: np.ndarray) -> np.ndarray:
    # the tanh approximation, as torch.nn.GELU(approximate="tanh") used in training
    return np.asarray(0.5 * x * (1.0 + np.tanh(0.7978845608028654 * (x + 0.044715 * x**3))))


#: Shares of the total training weight: the bank's own hard negatives, the real-text
#: negatives, and the risk classes (split equally between them). The bank's negatives weigh
#: more than their number: they are written like the risk examples, so the model has to learn
#: the risk, not the difference between the project's sentences and real comments.
BANK_NONE_SHARE, CORPUS_NONE_SHARE = 0.3, 0.2


def class_weights(y: np.ndarray, corpus: np.ndarray | None = None) -> np.ndarray:
    """Per-example weights (see :data:`BANK_NONE_SHARE`), summing to 1; ``corpus`` marks the
    real-text negatives (without any, the bank's negatives take both shares)."""
    corpus = np.zeros(len(y), dtype=bool) if corpus is None else corpus.astype(bool)
    counts = np.bincount(y, minlength=len(CLASSES)).astype(np.float64)
    present = counts[1:] > 0
    per_class = np.zeros(len(CLASSES))
    per_class[1:][present] = (1.0 - BANK_NONE_SHARE - CORPUS_NONE_SHARE) / present.sum()
    per_class[1:][present] /= counts[1:][present]
    out = np.asarray(per_class[y])
    bank_none = (y == 0) & ~corpus
    corpus_none = (y == 0) & corpus
    if corpus_none.any():
        out[bank_none] = BANK_NONE_SHARE / max(bank_none.sum(), 1)
        out[corpus_none] = CORPUS_NONE_SHARE / corpus_none.sum()
    else:
        out[bank_none] = (BANK_NONE_SHARE + CORPUS_NONE_SHARE) / max(bank_none.sum(), 1)
    return np.asarray(out / out.sum())


def fit_mlp(
    x: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    *,
    hidden: int = HIDDEN,
    epochs: int = EPOCHS,
    seed: int = 0,
) -> tuple[np.ndarray, ...]:
    """A one-hidden-layer network on the vectors, weighted cross-entropy, AdamW, dropout 0.1;
    returns ``(W1, b1, W2, b2)`` as float32 arrays. Seeded; torch is imported here only."""
    import torch

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
    wt = torch.from_numpy((weights * len(weights)).astype(np.float32))
    model = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], hidden),
        torch.nn.GELU(approximate="tanh"),
        torch.nn.Dropout(0.1),
        torch.nn.Linear(hidden, len(CLASSES)),
    )
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    n = len(yt)
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for i in range(0, n, 512):
            idx = order[i : i + 512]
            losses = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx], reduction="none")
            loss = (losses * wt[idx]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    first, last = model[0], model[3]
    assert isinstance(first, torch.nn.Linear) and isinstance(last, torch.nn.Linear)
    return tuple(
        t.detach().numpy().astype(np.float32).copy()
        for t in (first.weight.T, first.bias, last.weight.T, last.bias)
    )


def mlp_proba(params: Sequence[np.ndarray], vectors: np.ndarray) -> np.ndarray:
    """Class probabilities of the network ``params`` (see :func:`fit_mlp`); stacked params
    (a leading ensemble axis, see :func:`fit_ensemble`) give the members' mean."""
    w1, b1, w2, b2 = params
    if w1.ndim == 2:
        w1, b1, w2, b2 = w1[None], b1[None], w2[None], b2[None]
    x = vectors.astype(np.float32)
    out = np.zeros((len(x), w2.shape[-1]))
    for k in range(len(w1)):
        hidden = _gelu(x @ w1[k] + b1[k])
        out += _softmax((hidden @ w2[k] + b2[k]).astype(np.float64))
    return out / len(w1)


def fit_ensemble(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray, *, members: int = ENSEMBLE, seed: int = 0
) -> tuple[np.ndarray, ...]:
    """:data:`ENSEMBLE` networks from different seeds, their parameters stacked."""
    fits = [fit_mlp(x, y, weights, seed=seed + m) for m in range(members)]
    return tuple(np.stack([f[i] for f in fits]) for i in range(4))


def _folds(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    # stratified: each class is spread evenly over the folds
    rng = np.random.default_rng(seed)
    fold = np.zeros(len(y), dtype=np.int64)
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        fold[idx] = np.arange(len(idx)) % k
    return fold


def out_of_fold_proba(
    x: np.ndarray, y: np.ndarray, *, corpus: np.ndarray | None = None, k: int = FOLDS, seed: int = 0
) -> np.ndarray:
    """Each example's class probabilities from a network fitted without its fold."""
    fold = _folds(y, k, seed)
    corpus = np.zeros(len(y), dtype=bool) if corpus is None else corpus
    oof = np.zeros((len(y), len(CLASSES)))
    for f in range(k):
        train = fold != f
        params = fit_ensemble(x[train], y[train], class_weights(y[train], corpus[train]), seed=seed)
        oof[~train] = mlp_proba(params, x[~train])
    return oof


def _threshold_at_fpr(negative_scores: np.ndarray, fpr: float, cap: float) -> float:
    """The lowest threshold that at most ``fpr`` of the negatives reach (never above ``cap``)."""
    if len(negative_scores) == 0:
        return 0.0
    ranked = np.sort(negative_scores)[::-1]
    allowed = int(np.floor(fpr * len(ranked)))
    if allowed >= len(ranked):
        return 0.0
    return float(min(ranked[allowed] + 1e-6, cap))


def calibrate(
    oof: np.ndarray,
    y: np.ndarray,
    covered: np.ndarray | None = None,
    corpus: np.ndarray | None = None,
) -> tuple[float, dict[str, float], dict[str, float]]:
    """Thresholds from out-of-fold probabilities: concern (on :func:`concern_score`) and one per
    crisis category (on that category's probability), each the higher of the ones meeting the
    budgets on the real-text and on the bank's negatives. Returns them with the out-of-fold
    figures of the whole decision (``covered``: the bank examples the patterns catch)."""
    corpus = np.zeros(len(y), dtype=bool) if corpus is None else corpus.astype(bool)
    negatives = y == 0
    groups = ((negatives & corpus, CONCERN_FPR, CRISIS_FPR),
              (negatives & ~corpus, BANK_CONCERN_FPR, BANK_CRISIS_FPR))  # fmt: skip
    risk = concern_score(oof)
    concern_t = max(
        _threshold_at_fpr(risk[g], fpr, MAX_CONCERN_THRESHOLD) for g, fpr, _ in groups if g.any()
    )
    crisis_t: dict[str, float] = {
        c: max(
            _threshold_at_fpr(oof[g, 2 + i], fpr, MAX_CRISIS_THRESHOLD)
            for g, _, fpr in groups
            if g.any()
        )
        for i, c in enumerate(CRISIS_CATEGORIES)
    }
    hit = np.zeros(len(y), dtype=bool) if covered is None else covered.astype(bool)
    crisis_flag = hit | np.any(
        oof[:, 2:] >= np.array([crisis_t[c] for c in CRISIS_CATEGORIES]), axis=1
    )
    any_flag = crisis_flag | (risk >= concern_t)
    crisis_rows, risk_rows = y >= 2, y >= 1

    def mean(a: np.ndarray) -> float:
        return round(float(a.mean()), 4) if len(a) else 0.0

    figures = {
        "crisis_recall": mean(crisis_flag[crisis_rows]),
        "risk_recall": mean(any_flag[risk_rows]),
        "crisis_fpr_corpus": mean(crisis_flag[negatives & corpus]),
        "concern_fpr_corpus": mean(any_flag[negatives & corpus]),
        "crisis_fpr_bank": mean(crisis_flag[negatives & ~corpus]),
        "concern_fpr_bank": mean(any_flag[negatives & ~corpus]),
    }
    return concern_t, crisis_t, figures


@dataclass(frozen=True)
class CrisisClassifier:
    """A fitted network over sentence embeddings, with its calibrated thresholds."""

    params: tuple[np.ndarray, ...]
    #: Threshold on :func:`concern_score` for the concern tier.
    concern_threshold: float
    #: Threshold on each crisis category's probability for the crisis tier.
    crisis_thresholds: dict[str, float] = field(default_factory=dict)
    #: Out-of-fold figures of the whole decision (patterns + classifier) and what it was
    #: trained on, for the record.
    cv: dict[str, Any] = field(default_factory=dict)

    #: What reads the segments (``"frozen"``: this network over the shared embedder's vectors).
    kind = "frozen"

    def proba(self, vectors: np.ndarray) -> np.ndarray:
        """Class probabilities, one row per vector, columns as :data:`CLASSES`."""
        return mlp_proba(self.params, vectors)

    def scores(self, segments: Sequence[str], embedder: Embedder | None) -> np.ndarray:
        """Class probabilities of literalised text segments, through ``embedder``."""
        assert embedder is not None
        return self.proba(embedder.embed(list(segments)))

    def save(self, path: Path | str, *, bank_sha256: str, probe: np.ndarray) -> None:
        """Write the classifier with the bank digest and probe vectors that identify it."""
        w1, b1, w2, b2 = self.params
        np.savez_compressed(
            path,
            w1=w1.astype(np.float16),
            b1=b1.astype(np.float32),
            w2=w2.astype(np.float16),
            b2=b2.astype(np.float32),
            concern_threshold=np.array(self.concern_threshold),
            crisis_thresholds=np.array([self.crisis_thresholds[c] for c in CRISIS_CATEGORIES]),
            cv=np.array(json.dumps(self.cv)),
            bank_sha256=np.array(bank_sha256),
            probe=probe.astype(np.float32),
        )


def train_classifier(
    vectors: np.ndarray,
    labels: np.ndarray,
    *,
    covered: np.ndarray | None = None,
    corpus: np.ndarray | None = None,
    folds: int = FOLDS,
) -> CrisisClassifier:
    """Calibrate the thresholds out of fold (``folds``-fold), then fit on everything.

    ``covered`` marks the examples the crisis patterns catch; ``corpus`` the real-text
    negatives (weighted and calibrated apart from the bank's, see :func:`class_weights`).
    """
    x = vectors.astype(np.float32)
    oof = out_of_fold_proba(x, labels, corpus=corpus, k=folds)
    concern_t, crisis_t, figures = calibrate(oof, labels, covered, corpus)
    log.info("safety classifier out of fold: %s", figures)
    params = fit_ensemble(x, labels, class_weights(labels, corpus))
    return CrisisClassifier(params, concern_t, crisis_t, dict(figures))


def train_from_bank(
    embedder: Embedder,
    *,
    bank: Path | str = BANK_PATH,
    negatives: Path | str | None = None,
    conversations: Path | str | None = None,
    cache_dir: Path | None = None,
    folds: int = FOLDS,
) -> CrisisClassifier:
    """Fit the classifier on the example bank with ``embedder``, plus real-text negatives:
    GoEmotions comments when ``negatives`` names its ``train.tsv``, and ESConv seeker messages
    when ``conversations`` names a dialogue file (the result is then CC BY-NC 4.0, like ESConv;
    see ``corpus.py``). Embeddings of the negatives are cached in ``cache_dir``."""
    from agent.safety.corpus import embed_cached, esconv_negatives, goemotions_negatives

    texts, labels = load_bank(bank)
    vectors = np.asarray(embedder.embed([literalise(t) for t in texts]), dtype=np.float32)
    covered = np.array([bool(match_patterns(t)) for t in texts])
    corpus = np.zeros(len(texts), dtype=bool)
    sources = {"bank": len(texts)}
    extra_sets = []
    if negatives is not None:
        extra_sets.append(("goemotions", goemotions_negatives(negatives)))
    if conversations is not None:
        extra_sets.append(("esconv", esconv_negatives(conversations)))
    probe = embedder.embed(list(PROBE_TEXTS)) if extra_sets else None
    for tag, extra in extra_sets:
        assert probe is not None
        extra_vectors = embed_cached(embedder, extra, cache_dir, tag, probe)
        vectors = np.concatenate([vectors, extra_vectors])
        labels = np.concatenate([labels, np.zeros(len(extra), dtype=np.int64)])
        covered = np.concatenate([covered, np.zeros(len(extra), dtype=bool)])
        corpus = np.concatenate([corpus, np.ones(len(extra), dtype=bool)])
        sources[tag] = len(extra)
    classifier = train_classifier(vectors, labels, covered=covered, corpus=corpus, folds=folds)
    classifier.cv["trained_on"] = sources
    classifier.cv["licence"] = "CC BY-NC 4.0" if conversations is not None else "Apache-2.0"
    return classifier


def load_shipped_classifier(
    embedder: Embedder, path: Path = SHIPPED_CLASSIFIER
) -> CrisisClassifier | None:
    """The shipped classifier if it was fitted for this embedder and the current bank."""
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        if "w1" not in data:
            return None  # an older format
        params = tuple(data[k].astype(np.float32) for k in ("w1", "b1", "w2", "b2"))
        concern_t = float(data["concern_threshold"])
        crisis_t, cv = data["crisis_thresholds"], json.loads(str(data["cv"]))
        digest, probe = str(data["bank_sha256"]), data["probe"]
    if digest != bank_digest():
        return None
    if params[0].shape[-2] != getattr(embedder, "dim", -1) or params[3].shape[-1] != len(CLASSES):
        return None
    mine = embedder.embed(list(PROBE_TEXTS))
    if mine.shape != probe.shape or float(np.min(np.sum(mine * probe, axis=1))) < 0.999:
        return None
    thresholds: dict[str, float] = {
        c: float(t) for c, t in zip(CRISIS_CATEGORIES, crisis_t, strict=True)
    }
    return CrisisClassifier(params, concern_t, thresholds, cv)


# --- the detector -------------------------------------------------------------------------------

_CATEGORY_WORDS = {
    "suicidal_ideation": "suicidal thoughts",
    "self_harm": "self-harm",
    "harm_to_others": "harm to someone else",
    "abuse_violence": "abuse or violence",
    "medical_emergency": "a medical emergency",
}


def message_segments(texts: Sequence[str]) -> tuple[list[str], list[int]]:
    """What the classifier reads of each message: the whole (literalised) and, when it has
    several, each of its first :data:`_MAX_SEGMENTS` sentences; with the index of the message
    each segment came from (the most alarming segment counts)."""
    segments: list[str] = []
    owners: list[int] = []
    for i, text in enumerate(texts):
        whole = literalise(text)
        parts = [whole]
        split = sentences(whole)
        if len(split) > 1:
            parts.extend(split[:_MAX_SEGMENTS])
        segments.extend(parts)
        owners.extend([i] * len(parts))
    return segments, owners


def reads_like_bundled_minilm(embedder: Embedder) -> bool:
    """Whether ``embedder`` is the bundled MiniLM (the fine-tuned classifier adapts that
    encoder; over another embedder, or a fake one in tests, the frozen route runs)."""
    from agent.safety.tuned import encoder_dir

    model_dir = getattr(embedder, "model_dir", None)
    try:
        return model_dir is not None and Path(model_dir).resolve() == encoder_dir().resolve()
    except Exception:  # the bundled MiniLM is not installed
        return False


def _last_assistant(context: Sequence[ChatMessage] | None) -> str | None:
    return next((m.content for m in reversed(context or ()) if m.role == "assistant"), None)


class CrisisDetector:
    """Reads a user message for risk, graded none / concern / crisis; see the module docstring.

    Construction is cheap; the classifier loads (or is fitted) in :meth:`load` or on first use.
    ``embedder=None`` runs the patterns and context rules only (for wiring tests; never the
    default). ``threshold`` overrides the calibrated concern threshold (the crisis thresholds
    per category stay as calibrated).
    """

    def __init__(
        self,
        embedder: Embedder | None,
        *,
        threshold: float | None = None,
        locale: str = "en",
        resources_path: Path | str | None = None,
        tuned: bool = True,
    ) -> None:
        self.embedder = embedder
        self.threshold_override = threshold
        self.locale = locale
        self.resources_path = resources_path
        self._classifier: CrisisClassifier | TunedClassifier | None = None
        self._frozen: CrisisClassifier | None = None
        self.tuned = tuned
        self._lock = threading.Lock()
        locale_resources(locale, resources_path)  # fail early on a bad table or locale

    @classmethod
    def from_settings(cls, settings: AttuneSettings, embedder: Embedder | None) -> CrisisDetector:
        """The detector configured by ``settings.safety`` over the shared embedder."""
        safety = settings.safety
        return cls(
            embedder,
            threshold=safety.threshold,
            locale=safety.locale,
            resources_path=safety.resources_path,
            tuned=safety.tuned,
        )

    # --- loading ------------------------------------------------------------------------------

    @property
    def classifier(self) -> CrisisClassifier | TunedClassifier | None:
        """The classifier (loads it): the fine-tuned one (``tuned.py``) when it fits the bank
        and the bundled MiniLM is installed and ``tuned`` is on, else the frozen network over
        the embedder; ``None`` without an embedder."""
        if self.embedder is None:
            return None
        if self._classifier is None:
            with self._lock:
                if self._classifier is None:
                    tuned = (
                        TunedClassifier.load()
                        if self.tuned and reads_like_bundled_minilm(self.embedder)
                        else None
                    )
                    self._classifier = tuned or self._load_classifier(self.embedder)
        return self._classifier

    def load(self) -> None:
        """Load or fit the classifier now rather than on the first message."""
        _ = self.classifier

    @staticmethod
    def _load_classifier(embedder: Embedder) -> CrisisClassifier:
        started = time.perf_counter()
        shipped = load_shipped_classifier(embedder)
        if shipped is not None:
            log.info("safety classifier loaded in %.2f s", time.perf_counter() - started)
            return shipped
        classifier = train_from_bank(embedder)
        log.info(
            "safety classifier fitted on the example bank in %.2f s (concern threshold %.3f)",
            time.perf_counter() - started,
            classifier.concern_threshold,
        )
        return classifier

    @property
    def threshold(self) -> float:
        """The concern threshold in use (on :func:`concern_score`)."""
        if self.threshold_override is not None:
            return self.threshold_override
        classifier = self.classifier
        return classifier.concern_threshold if classifier is not None else MAX_CONCERN_THRESHOLD

    @property
    def crisis_classifier(self) -> CrisisClassifier | TunedClassifier | None:
        """What may raise a crisis on its own: the frozen classifier, also when the tuned one
        reads concern (its crisis flags in conversation were erratic: "I keep thinking I
        should have seen it coming." read as suicidal 0.84)."""
        classifier = self.classifier
        if classifier is None or classifier.kind != "tuned":
            return classifier
        if self._frozen is None:
            with self._lock:
                if self._frozen is None:
                    assert self.embedder is not None
                    self._frozen = self._load_classifier(self.embedder)
        return self._frozen

    def crisis_threshold(self, category: str) -> float:
        """The crisis threshold in use for one category (on its class probability)."""
        classifier = self.crisis_classifier
        if classifier is None:
            return MAX_CRISIS_THRESHOLD
        return classifier.crisis_thresholds.get(category, MAX_CRISIS_THRESHOLD)

    # --- assessing ----------------------------------------------------------------------------

    def assess(
        self,
        text: str,
        previous: SafetyAssessment | None = None,
        context: Sequence[ChatMessage] | None = None,
    ) -> SafetyAssessment:
        """Assess one message. ``previous`` is the last turn's assessment; ``context`` the
        dialogue before the message (the last assistant message is read for a risk question)."""
        return self.assess_batch([text], [previous], [context])[0]

    def assess_batch(
        self,
        texts: Sequence[str],
        previous: Sequence[SafetyAssessment | None] | None = None,
        contexts: Sequence[Sequence[ChatMessage] | None] | None = None,
    ) -> list[SafetyAssessment]:
        """Assess several messages at once (one embedding call for all their segments)."""
        prev = list(previous) if previous is not None else [None] * len(texts)
        ctxs = list(contexts) if contexts is not None else [None] * len(texts)
        if len(prev) != len(texts) or len(ctxs) != len(texts):
            raise ConfigError("assess_batch: previous and contexts need one entry per text")
        probs = self._classifier_scores(texts)
        return [
            self._decide(text, p[0] if p else None, before, ctx, p[1] if p else None)
            for text, p, before, ctx in zip(texts, probs, prev, ctxs, strict=True)
        ]

    def _classifier_scores(
        self, texts: Sequence[str]
    ) -> list[tuple[np.ndarray, np.ndarray] | None]:
        """Per message: the class probabilities of its most alarming segment for the concern
        tier (the classifier) and for the crisis tier (the crisis classifier; the same unless
        the tuned classifier reads concern)."""
        classifier, crisis = self.classifier, self.crisis_classifier
        if classifier is None or crisis is None or self.embedder is None:
            return [None] * len(texts)
        segments, owners = message_segments(texts)
        probs = classifier.scores(segments, self.embedder)
        crisis_probs = probs if crisis is classifier else crisis.scores(segments, self.embedder)
        out: list[tuple[np.ndarray, np.ndarray] | None] = []
        owner = np.asarray(owners)
        for i in range(len(texts)):
            mine = owner == i
            rows, crisis_rows = probs[mine], crisis_probs[mine]
            out.append(  # the most alarming segment of each
                (rows[int(np.argmin(rows[:, 0]))], crisis_rows[int(np.argmin(crisis_rows[:, 0]))])
            )
        return out

    def _decide(
        self,
        text: str,
        probs: np.ndarray | None,
        previous: SafetyAssessment | None,
        context: Sequence[ChatMessage] | None,
        crisis_probs: np.ndarray | None = None,
    ) -> SafetyAssessment:
        question = risk_question(_last_assistant(context) or "")
        # right after a crisis the next message is read with more care, unless the dialogue
        # shows that something else (not our "are you safe?") was said in between
        after_crisis = previous is not None and previous.crisis
        careful = after_crisis and (context is None or question is not None)
        scale = 0.5 if careful else 1.0
        scores: dict[str, float] = {}
        if probs is not None:
            scores = {c: round(float(p), 4) for c, p in zip(CLASSES[1:], probs[1:], strict=True)}
        matched_by: list[str] = []
        crisis_category: CrisisCategory | None = None
        concern_category: CrisisCategory | None = None
        reasons: list[str] = []
        said: str | None = None

        # 1. direct language
        hits = match_patterns(text)
        if hits:
            ranked = sorted(range(len(hits)), key=lambda i: (-scores.get(hits[i].category, 0), i))
            hit = hits[ranked[0]].category
            matched_by.append("pattern")
            if history_only(text):
                concern_category = hit
                reasons.append(f"says {_CATEGORY_WORDS[hit]} happened in the past")
            else:
                crisis_category = hit
                reasons.append(f"direct language about {_CATEGORY_WORDS[hit]}")
        concerns = match_concern(text)
        if concerns and crisis_category is None:
            concern_category = concern_category or concerns[0].category
            said = concerns[0].said
            matched_by.append("indicator")
            reasons.append(f"risk indicator: {said}")

        # 2. the answer to a risk question
        polarity = answer_polarity(text) if len(normalise(text).split()) <= _ANSWER_WORDS else None
        reassured = False
        if question is not None and polarity is not None:
            if polarity == question.danger:
                crisis_category = crisis_category or question.category
                matched_by.append("answer")
                reasons.append(f"answered {polarity!r} to a question about risk")
            elif polarity == "unsure":
                if question.danger == "no":  # "are you safe?" "I don't know"
                    crisis_category = crisis_category or question.category
                else:
                    concern_category = concern_category or question.category
                matched_by.append("answer")
                reasons.append("unsure, answering a question about risk")
            else:
                reassured = True
        elif careful and crisis_category is None and is_follow_up_answer(normalise(text)):
            crisis_category = previous.category if previous is not None else None
            crisis_category = crisis_category or "suicidal_ideation"
            matched_by.append("follow_up")
            reasons.append("a short 'no' or 'I don't know' right after a crisis reply")

        # 3. the classifier
        p_risk = 0.0
        if probs is not None:
            p_risk = float(concern_score(probs))
            crisis_row = crisis_probs if crisis_probs is not None else probs
            over = [
                (float(crisis_row[2 + i]), c)
                for i, c in enumerate(CRISIS_CATEGORIES)
                if crisis_row[2 + i] >= self.crisis_threshold(c) * scale
            ]
            if over and not reassured:
                p, c = max(over)
                matched_by.append("classifier")
                if crisis_category is None:
                    crisis_category = c
                    reasons.append(f"reads like {_CATEGORY_WORDS[c]} ({p:.2f})")
            elif p_risk >= self.threshold and not reassured and crisis_category is None:
                matched_by.append("classifier")
                if concern_category is None:
                    kept = [1, *(j for j in range(2, len(CLASSES)) if j != _MEDICAL)]
                    top = max(kept, key=lambda j: float(probs[j]))
                    concern_category = (
                        "suicidal_ideation" if top == 1 else CRISIS_CATEGORIES[top - 2]
                    )
                    reasons.append(
                        f"may be about {_CATEGORY_WORDS[concern_category]} ({p_risk:.2f})"
                    )

        tier: SafetyTier = "none"
        category: CrisisCategory | None = None
        if crisis_category is not None:
            tier, category = "crisis", crisis_category
        elif concern_category is not None:
            tier, category = "concern", concern_category
        confidence = max(p_risk, _PATTERN_CONFIDENCE if ("pattern" in matched_by) else 0.0)
        if "answer" in matched_by or "follow_up" in matched_by or "indicator" in matched_by:
            confidence = max(confidence, 0.9)
        table = locale_resources(self.locale, self.resources_path)
        resources: tuple[CrisisResource, ...] = ()
        check_in: str | None = None
        if tier == "crisis" and category is not None:
            resources = table.for_category(category)
        elif tier == "concern" and category is not None:
            check_in = compose_check_in(category, said, table)
        return SafetyAssessment(
            tier=tier,
            crisis=tier == "crisis",
            category=category,
            confidence=round(min(max(confidence, 0.0), 1.0), 4),
            scores=scores,
            matched_by=tuple(dict.fromkeys(matched_by)),
            reason="; ".join(reasons) if tier != "none" else "",
            check_in=check_in,
            locale=table.locale,
            resources=resources,
        )

    def info(self) -> dict[str, Any]:
        """What the detector runs with (no message content), for logs and the eval report."""
        classifier = self.classifier
        return {
            "classifier": classifier.kind if classifier is not None else None,
            "crisis_classifier": (
                self.crisis_classifier.kind if self.crisis_classifier is not None else None
            ),
            "concern_threshold": round(self.threshold, 4),
            "crisis_thresholds": {c: round(self.crisis_threshold(c), 4) for c in CRISIS_CATEGORIES},
            "cv": classifier.cv if classifier else None,
            "locale": self.locale,
        }
