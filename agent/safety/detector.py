"""The hybrid crisis detector: direct-language patterns plus an embedding classifier.

Method
------
1. **Patterns** (``patterns.py``): first-person regular expressions for direct crisis language
   ("I want to kill myself", "he hits me", "I took a whole bottle of pills"), matched sentence
   by sentence, with idiom and accident exceptions. A match is a crisis with confidence 1.0.
2. **Embedding classifier**: a softmax (multinomial logistic) regression with 6 classes (no
   crisis + the 5 categories) over the shared embedder's sentence vectors (all-MiniLM-L6-v2 by
   default), fitted on the project-written example bank ``data/crisis_examples.jsonl`` (crisis
   examples per category, direct and indirect, and hard negatives: sadness, anger, idioms,
   fiction, news, everyday health). The message and each of its sentences are embedded; the
   crisis probability is ``1 - P(no crisis)`` of the most alarming one.
3. **Calibration for recall**: the decision is patterns OR classifier (missing a crisis costs
   more than a false alarm). The threshold on the crisis probability is the highest at which
   that decision still finds 95% of the bank's crisis examples out of fold (5-fold stratified
   cross-validation; capped at 0.5); the hyper-parameters (L2 penalty, logit scale) are those
   with the lowest out-of-fold false-positive rate at that recall.
4. **Follow-up**: right after a crisis reply, a short "no" / "I don't know" (to "are you safe
   right now?") stays a crisis, and the classifier threshold is halved for that turn.

The bank is used only to fit and calibrate. The evaluation set (``data/eval_safety.jsonl``) was
written separately, before the patterns and the classifier, and is never used to fit or tune;
a test checks that no evaluation text is in the bank.

The fitted classifier for the bundled MiniLM ships as ``data/classifier_minilm.npz``
(``attune train safety`` reproduces it); it is used when the embedder gives the same vectors for
a few probe sentences and the bank is unchanged, otherwise the detector fits itself on first use
(one pass over the bank, a few seconds on CPU). Without an embedder only the patterns run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from agent.safety.patterns import (
    is_follow_up_answer,
    literalise,
    match_patterns,
    normalise,
    sentences,
)
from agent.safety.resources import locale_resources
from modalities.errors import ConfigError
from modalities.types import (
    CRISIS_CATEGORIES,
    CrisisCategory,
    CrisisResource,
    SafetyAssessment,
)

if TYPE_CHECKING:
    from agent.settings import AttuneSettings
    from modalities.text.base import Embedder

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
#: The project-written examples the classifier is fitted on (never the evaluation set).
BANK_PATH = DATA_DIR / "crisis_examples.jsonl"
#: The project-written labelled evaluation set (never used to fit or tune).
EVAL_PATH = DATA_DIR / "eval_safety.jsonl"
#: The classifier fitted for the bundled all-MiniLM-L6-v2.
SHIPPED_CLASSIFIER = DATA_DIR / "classifier_minilm.npz"

#: Classifier classes: index 0 is "no crisis".
CLASSES: tuple[str, ...] = ("none", *CRISIS_CATEGORIES)
#: The recall the threshold is calibrated for, on held-out folds of the bank.
CALIBRATION_RECALL = 0.95
#: Hyper-parameter grid searched by cross-validation on the bank.
SCALES = (1.0, 5.0, 10.0, 20.0)
L2S = (1e-4, 1e-3, 1e-2)
#: Hyper-parameters used when fitting for another embedder without the search.
DEFAULT_SCALE, DEFAULT_L2 = 5.0, 1e-2
#: Sentences whose vectors identify the embedder the shipped classifier was fitted for.
PROBE_TEXTS = (
    "I want to talk to someone about my day.",
    "The weather is lovely this morning.",
    "Nobody would notice if I was gone.",
)
_MAX_SEGMENTS = 24
_PATTERN_CONFIDENCE = 1.0


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


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def fit_softmax(
    x: np.ndarray, y: np.ndarray, *, l2: float, scale: float, iters: int = 600
) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression by full-batch gradient descent with momentum.

    Logits are ``scale * x @ W + b``; the loss is the mean cross-entropy plus ``l2/2 |W|^2``.
    Deterministic (zero initialisation, no sampling).
    """
    n, dim = x.shape
    k = len(CLASSES)
    onehot = np.eye(k)[y]
    w, b = np.zeros((dim, k)), np.zeros(k)
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    lr = 1.0 / max(scale, 1.0)
    for _ in range(iters):
        grad = (_softmax(scale * x @ w + b) - onehot) / n
        gw = scale * x.T @ grad + l2 * w
        gb = grad.sum(axis=0)
        vw = 0.9 * vw - lr * gw
        vb = 0.9 * vb - lr * gb
        w, b = w + vw, b + vb
    return w, b


def _folds(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    # stratified: each class is spread evenly over the folds
    rng = np.random.default_rng(seed)
    fold = np.zeros(len(y), dtype=np.int64)
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        fold[idx] = np.arange(len(idx)) % k
    return fold


def out_of_fold_crisis_proba(
    x: np.ndarray, y: np.ndarray, *, l2: float, scale: float, k: int = 5, seed: int = 0
) -> np.ndarray:
    """Each bank example's crisis probability from a model fitted without its fold."""
    fold = _folds(y, k, seed)
    oof = np.zeros(len(y))
    for f in range(k):
        train = fold != f
        w, b = fit_softmax(x[train], y[train], l2=l2, scale=scale)
        oof[~train] = 1.0 - _softmax(scale * x[~train] @ w + b)[:, 0]
    return oof


def calibrated_threshold(
    oof: np.ndarray,
    y: np.ndarray,
    recall: float = CALIBRATION_RECALL,
    covered: np.ndarray | None = None,
) -> float:
    """The highest threshold at which the detector still finds ``recall`` of the bank's crisis
    examples out of fold; ``covered`` marks examples the patterns already catch (the decision
    is patterns OR classifier). Never above 0.5: more likely a crisis than not always fires."""
    positives = y > 0
    allowed_misses = int(np.floor((1.0 - recall) * positives.sum()))
    left = positives if covered is None else positives & ~covered
    scores = np.sort(oof[left])
    if allowed_misses >= len(scores):
        return 0.5
    return float(min(scores[allowed_misses], 0.5))


@dataclass(frozen=True)
class CrisisClassifier:
    """A fitted softmax regression over sentence embeddings, with its calibrated threshold."""

    weights: np.ndarray
    bias: np.ndarray
    scale: float
    l2: float
    threshold: float
    #: Out-of-fold recall and false-positive rate of the whole detector (patterns OR this
    #: classifier) on the bank at the threshold, for the record.
    cv_recall: float = float("nan")
    cv_false_positive_rate: float = float("nan")

    def proba(self, vectors: np.ndarray) -> np.ndarray:
        """Class probabilities, one row per vector, columns as :data:`CLASSES`."""
        return _softmax(self.scale * vectors.astype(np.float64) @ self.weights + self.bias)

    def save(self, path: Path | str, *, bank_sha256: str, probe: np.ndarray) -> None:
        """Write the classifier with the bank digest and probe vectors that identify it."""
        np.savez(
            path,
            weights=self.weights.astype(np.float32),
            bias=self.bias.astype(np.float32),
            hyper=np.array([self.scale, self.l2, self.threshold, self.cv_recall,
                            self.cv_false_positive_rate]),
            bank_sha256=np.array(bank_sha256),
            probe=probe.astype(np.float32),
        )  # fmt: skip


def train_classifier(
    vectors: np.ndarray,
    labels: np.ndarray,
    *,
    covered: np.ndarray | None = None,
    scales: Sequence[float] = SCALES,
    l2s: Sequence[float] = L2S,
    recall: float = CALIBRATION_RECALL,
) -> CrisisClassifier:
    """Choose hyper-parameters and the threshold by cross-validation on the bank, then fit all.

    ``covered`` marks the bank examples the patterns catch (see :func:`calibrated_threshold`).
    The chosen pair has the lowest out-of-fold false-positive rate of the whole detector at the
    target recall (ties: the smaller scale, then the larger penalty: the smoother model).
    """
    x = vectors.astype(np.float64)
    hit = np.zeros(len(labels), dtype=bool) if covered is None else covered.astype(bool)
    trials = []
    for scale in scales:
        for l2 in l2s:
            oof = out_of_fold_crisis_proba(x, labels, l2=l2, scale=scale)
            thr = calibrated_threshold(oof, labels, recall, hit)
            flagged = (oof >= thr) | hit
            fpr = float(flagged[labels == 0].mean())
            rec = float(flagged[labels > 0].mean())
            trials.append((fpr, scale, -l2, thr, rec))
    fpr, scale, neg_l2, thr, rec = min(trials)
    w, b = fit_softmax(x, labels, l2=-neg_l2, scale=scale)
    return CrisisClassifier(w, b, scale, -neg_l2, thr, rec, fpr)


def train_from_bank(
    embedder: Embedder, *, search: bool = True, bank: Path | str = BANK_PATH
) -> CrisisClassifier:
    """Fit the classifier on the example bank with ``embedder``.

    ``search`` runs the full hyper-parameter grid (``attune train safety``, about 20 s on CPU);
    without it the shipped defaults (:data:`DEFAULT_SCALE`, :data:`DEFAULT_L2`) are used and
    only the threshold is calibrated.
    """
    texts, labels = load_bank(bank)
    vectors = embedder.embed([literalise(t) for t in texts])
    covered = np.array([bool(match_patterns(t)) for t in texts])
    if search:
        return train_classifier(vectors, labels, covered=covered)
    return train_classifier(
        vectors, labels, covered=covered, scales=(DEFAULT_SCALE,), l2s=(DEFAULT_L2,)
    )


def load_shipped_classifier(
    embedder: Embedder, path: Path = SHIPPED_CLASSIFIER
) -> CrisisClassifier | None:
    """The shipped classifier if it was fitted for this embedder and the current bank."""
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        weights, bias, hyper = data["weights"], data["bias"], data["hyper"]
        digest, probe = str(data["bank_sha256"]), data["probe"]
    if weights.shape[0] != getattr(embedder, "dim", -1) or digest != bank_digest():
        return None
    mine = embedder.embed(list(PROBE_TEXTS))
    if mine.shape != probe.shape or float(np.min(np.sum(mine * probe, axis=1))) < 0.999:
        return None
    scale, l2, threshold, cv_recall, cv_fpr = (float(v) for v in hyper)
    return CrisisClassifier(
        weights.astype(np.float64), bias.astype(np.float64), scale, l2, threshold, cv_recall, cv_fpr
    )


# --- the detector -------------------------------------------------------------------------------


class CrisisDetector:
    """Reads a user message for crisis language; see the module docstring for the method.

    Construction is cheap; the classifier loads (or is fitted) in :meth:`load` or on first use.
    ``embedder=None`` runs the patterns only (for wiring tests; never the default).
    ``threshold`` overrides the calibrated one.
    """

    def __init__(
        self,
        embedder: Embedder | None,
        *,
        threshold: float | None = None,
        locale: str = "en",
        resources_path: Path | str | None = None,
    ) -> None:
        self.embedder = embedder
        self.threshold_override = threshold
        self.locale = locale
        self.resources_path = resources_path
        self._classifier: CrisisClassifier | None = None
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
        )

    # --- loading ------------------------------------------------------------------------------

    @property
    def classifier(self) -> CrisisClassifier | None:
        """The fitted classifier (loads it); ``None`` without an embedder."""
        if self.embedder is None:
            return None
        if self._classifier is None:
            with self._lock:
                if self._classifier is None:
                    self._classifier = self._load_classifier(self.embedder)
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
        classifier = train_from_bank(embedder, search=False)
        log.info(
            "safety classifier fitted on the example bank in %.2f s (threshold %.3f)",
            time.perf_counter() - started,
            classifier.threshold,
        )
        return classifier

    @property
    def threshold(self) -> float:
        """The crisis-probability threshold in use."""
        if self.threshold_override is not None:
            return self.threshold_override
        classifier = self.classifier
        return classifier.threshold if classifier is not None else 0.5

    # --- assessing ----------------------------------------------------------------------------

    def assess(self, text: str, previous: SafetyAssessment | None = None) -> SafetyAssessment:
        """Assess one message; ``previous`` is the last turn's assessment when it was a crisis."""
        return self.assess_batch([text], [previous])[0]

    def assess_batch(
        self, texts: Sequence[str], previous: Sequence[SafetyAssessment | None] | None = None
    ) -> list[SafetyAssessment]:
        """Assess several messages at once (one embedding call for all their segments)."""
        prev = list(previous) if previous is not None else [None] * len(texts)
        if len(prev) != len(texts):
            raise ConfigError("assess_batch: previous must have one entry per text")
        probs = self._classifier_scores(texts)
        return [
            self._decide(text, p, before)
            for text, p, before in zip(texts, probs, prev, strict=True)
        ]

    def _classifier_scores(self, texts: Sequence[str]) -> list[np.ndarray | None]:
        classifier = self.classifier
        if classifier is None or self.embedder is None:
            return [None] * len(texts)
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
        probs = classifier.proba(self.embedder.embed(segments))
        out: list[np.ndarray | None] = []
        owner = np.asarray(owners)
        for i in range(len(texts)):
            rows = probs[owner == i]
            out.append(rows[int(np.argmin(rows[:, 0]))])  # the most alarming segment
        return out

    def _decide(
        self, text: str, probs: np.ndarray | None, previous: SafetyAssessment | None
    ) -> SafetyAssessment:
        follow_up = previous is not None and previous.crisis
        threshold = self.threshold * (0.5 if follow_up else 1.0)
        scores: dict[str, float] = {}
        p_crisis = 0.0
        classifier_category: CrisisCategory | None = None
        if probs is not None:
            p_crisis = float(1.0 - probs[0])
            scores = {c: round(float(p), 4) for c, p in zip(CLASSES[1:], probs[1:], strict=True)}
            classifier_category = CRISIS_CATEGORIES[int(np.argmax(probs[1:]))]
        hits = match_patterns(text)
        matched_by: list[str] = []
        category: CrisisCategory | None = None
        if hits:
            matched_by.append("pattern")
            # several categories fired: the one the classifier finds likeliest, else the first
            ranked = sorted(range(len(hits)), key=lambda i: (-scores.get(hits[i].category, 0.0), i))
            category = hits[ranked[0]].category
        if probs is not None and p_crisis >= threshold:
            matched_by.append("classifier")
            category = category or classifier_category
        if follow_up and not matched_by and is_follow_up_answer(normalise(text)):
            matched_by.append("follow_up")
            category = previous.category if previous is not None else None
        crisis = bool(matched_by)
        confidence = max(p_crisis, _PATTERN_CONFIDENCE if hits else 0.0)
        if crisis and category is None:
            category = classifier_category or "suicidal_ideation"
        resources: tuple[CrisisResource, ...] = ()
        if crisis and category is not None:
            resources = locale_resources(self.locale, self.resources_path).for_category(category)
        return SafetyAssessment(
            crisis=crisis,
            category=category if crisis else None,
            confidence=round(min(max(confidence, 0.0), 1.0), 4),
            scores=scores,
            matched_by=tuple(matched_by),
            locale=locale_resources(self.locale, self.resources_path).locale,
            resources=resources,
        )

    def info(self) -> dict[str, Any]:
        """What the detector runs with (no message content), for logs and the eval report."""
        classifier = self.classifier
        return {
            "classifier": classifier is not None,
            "threshold": round(self.threshold, 4),
            "scale": classifier.scale if classifier else None,
            "l2": classifier.l2 if classifier else None,
            "cv_recall": classifier.cv_recall if classifier else None,
            "cv_false_positive_rate": classifier.cv_false_positive_rate if classifier else None,
            "locale": self.locale,
        }
