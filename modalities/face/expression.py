"""From a FER distribution (and the mesh geometry) to the expression reading.

**Geometry refinement** (:func:`refine_with_geometry`): a classifier sees one low-resolution
gray crop; the mesh measures the mouth and brows directly. Two cues adjust the log-probabilities
modestly (at most +-``MAX_NUDGE`` nats, then renormalise), so the classifier stays in charge:

* ``happy`` rises with the mouth corners above the lip centre (``mouth_corner`` above
  ``SMILE_CORNER``, full effect ``SMILE_SPAN`` later), and falls slightly when they sit clearly
  below it (a downturned mouth);
* ``surprise`` rises when the mouth is open (``mouth_open`` above ``OPEN_MOUTH``) *and* the
  brows are raised (``brow_raise`` above ``RAISED_BROW``).

The thresholds are in face-size units from :class:`~attune.types.FaceGeometry`: a relaxed
face has corners about level with the lip centre (``mouth_corner`` near 0), closed lips
(``mouth_open`` near 0) and brows about 0.1 face heights above the eyelids.

**Valence and arousal**: the probability-weighted mean of each FER label's circumplex position
(:data:`~modalities.fusion.labels.FER_CIRCUMPLEX`: e.g. happy (0.85, 0.70), sad (-0.80, 0.30),
neutral (0, 0.20)).

**Certainty** of the expression: how far the top probability stands above chance,
``(p_max - 1/K) / (1 - 1/K)``; the reading's confidence is detection score x certainty.
"""

from __future__ import annotations

import numpy as np

from attune.types import FER_LABELS, FaceGeometry
from modalities.fusion.labels import FER_CIRCUMPLEX

MAX_NUDGE = 0.6
SMILE_CORNER, SMILE_SPAN = 0.01, 0.03
FROWN_CORNER = -0.02
OPEN_MOUTH, RAISED_BROW = 0.04, 0.12

_HAPPY = FER_LABELS.index("happy")
_SURPRISE = FER_LABELS.index("surprise")


def _ramp(value: float, start: float, span: float) -> float:
    """0 below ``start``, rising linearly to 1 at ``start + span``."""
    return float(np.clip((value - start) / span, 0.0, 1.0))


def refine_with_geometry(probs: np.ndarray, geometry: FaceGeometry | None) -> np.ndarray:
    """Adjust a FER distribution (in :data:`FER_LABELS` order) by the mesh cues (module doc)."""
    if geometry is None:
        return probs
    nudge = np.zeros(len(FER_LABELS))
    smile = _ramp(geometry.mouth_corner, SMILE_CORNER, SMILE_SPAN)
    frown = _ramp(-geometry.mouth_corner, -FROWN_CORNER, SMILE_SPAN)
    nudge[_HAPPY] = MAX_NUDGE * (smile - 0.5 * frown)
    surprise = _ramp(geometry.mouth_open, OPEN_MOUTH, OPEN_MOUTH)
    surprise *= _ramp(geometry.brow_raise, RAISED_BROW, RAISED_BROW / 2)
    nudge[_SURPRISE] = MAX_NUDGE * surprise
    logits = np.log(np.clip(probs, 1e-6, 1.0)) + nudge
    out = np.exp(logits - logits.max())
    return np.asarray(out / out.sum())


def valence_arousal(probs: np.ndarray) -> tuple[float, float]:
    """Probability-weighted mean circumplex position of a FER distribution."""
    coords = np.array([FER_CIRCUMPLEX[label] for label in FER_LABELS])
    valence, arousal = (probs[:, None] * coords).sum(axis=0) / max(float(probs.sum()), 1e-9)
    return float(np.clip(valence, -1, 1)), float(np.clip(arousal, 0, 1))


def certainty(probs: np.ndarray) -> float:
    """How far the top probability stands above chance, in [0, 1]."""
    chance = 1.0 / len(probs)
    return float(np.clip((probs.max() - chance) / (1.0 - chance), 0.0, 1.0))
