"""``attune eval fusion``: the project's own test set for fusion, words crossed with faces.

**Utterances** (written by the project, :data:`UTTERANCES`), four kinds: ``negative`` (a loss,
a failure, a break-up, being left out, said plainly), ``hedged`` (the same kind of content
played down: "I'm fine, really, it's just that..."), ``positive`` (good news) and ``neutral``
(nothing much). The four rows of issue 17's table are among them.

**Faces** (:data:`FACES`) whose expression is known independently of the face model:

- ``portrait``: the default avatar portrait, a broad smile (``happy``);
- ``render:<name>``: the same photo rendered by the project's portrait renderer with the
  ``joy``, ``neutral`` and ``sad`` rows of ``modalities/avatar/cues.py`` (mouth at rest);
- ``lfw:<i>``: crops of the LFW subset that scikit-image ships, labelled by hand (a broad smile
  or a closed, relaxed mouth), upscaled from 25x25 to 200x200;
- ``hopper``: the Grace Hopper portrait that matplotlib ships, labelled neutral by hand.

Nothing is copied into the repository: each image is made or read from the installed package
when the evaluation runs.

**Expected readings** come from the kind of words and the face's known expression
(:func:`expected`): negative or hedged words give a negative fused valence and a label other
than joy whatever the face; with a smile they are flagged incongruent (``text~face``); hedged
words carry the ``hedged`` cue; plain negative words with a neutral face, positive words with a
smile or a neutral face, and neutral words with either are not flagged; positive words are
never read as a negative emotion, and with a smile their valence is positive. Hedged words with
a neutral face may or may not be flagged (a hedge is a masking cue on its own): no expectation.

**A face the face model misreads** (its top label is not the known expression) cannot test
fusion: its cases are reported with their numbers and counted apart (``face_misread``), not as
fusion passes or failures. The face model's own accuracy on the faces is reported beside.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from attune.types import FaceReading, FusedAffect

Kind = Literal["negative", "hedged", "positive", "neutral"]

#: The project's utterances, by kind.
UTTERANCES: dict[Kind, tuple[str, ...]] = {
    "negative": (
        "My father passed away last week.",
        "I failed my exam and my parents will be furious.",
        "My girlfriend left me and I can't stop crying.",
        "I lost my job today and I don't know how to pay rent.",
        "Nobody came to my birthday party.",
    ),
    "hedged": (
        "I am fine, really, it is just that my father passed away last week.",
        "Honestly I'm okay. I just haven't slept since the funeral.",
        "I guess it's not a big deal that I got fired.",
        "It's fine, it's just that my wife left me.",
        "I'm okay I suppose, I just feel so alone since the divorce.",
    ),
    "positive": (
        "I got the job I wanted, I'm so happy!",
        "My sister had her baby today and everyone is healthy!",
        "We won the match and I scored the winning goal.",
        "I passed my driving test this morning!",
    ),
    "neutral": (
        "I'm fine, thanks. Just a normal day at work.",
        "I had pasta for lunch and then went to the office.",
        "I'm going to the shops later.",
        "The meeting is at three on Tuesday.",
    ),
}


@dataclass(frozen=True)
class Face:
    """One face of the set: ``source`` says how to make it, ``known`` its expression (a
    :data:`~attune.types.FER_LABELS` label), ``why`` how that is known."""

    name: str
    source: str
    known: str
    why: str


_LFW_SMILES = (1, 31, 52, 94, 96)
_LFW_NEUTRAL = (7, 20, 42, 62, 72, 73, 92, 98)

#: The faces of the set (module docstring).
FACES: tuple[Face, ...] = (
    Face("portrait", "portrait", "happy", "the default portrait: a broad, toothy smile"),
    Face("render:joy", "render:joy", "happy", "the portrait renderer's joy row"),
    Face("render:neutral", "render:neutral", "neutral", "the portrait renderer's neutral row"),
    Face("render:sad", "render:sad", "sad", "the portrait renderer's sad row"),
    *(Face(f"lfw:{i}", f"lfw:{i}", "happy", "hand label: a broad smile") for i in _LFW_SMILES),
    *(
        Face(f"lfw:{i}", f"lfw:{i}", "neutral", "hand label: a closed, relaxed mouth")
        for i in _LFW_NEUTRAL
    ),
    Face("hopper", "hopper", "neutral", "hand label: closed mouth, no smile"),
)


def expected(kind: Kind, face: str) -> dict[str, Any]:
    """What the fused reading of words of ``kind`` with a face showing ``face`` must be
    (module docstring): ``valence`` ``"negative"`` / ``"positive"`` / ``None``, ``not_joy`` /
    ``not_negative`` (the label), ``incongruent`` (``None``: either), ``hedged`` (the cue)."""
    smile = face == "happy"
    out: dict[str, Any] = {
        "valence": None,
        "not_joy": False,
        "not_negative": False,
        "incongruent": None,
        "hedged": kind == "hedged",
    }
    if kind in ("negative", "hedged"):
        out.update(valence="negative", not_joy=True)
        out["incongruent"] = True if smile else (False if kind == "negative" else None)
    elif kind == "positive":
        out.update(valence="positive" if smile else None, not_negative=True, incongruent=False)
    else:
        out["incongruent"] = False
    return out


NEGATIVE_LABELS = frozenset({"sadness", "anger", "fear", "disgust"})


def check(affect: FusedAffect, want: dict[str, Any]) -> list[str]:
    """The expectations ``affect`` fails (empty when it meets them all)."""
    failed = []
    if want["valence"] == "negative" and not affect.valence < 0:
        failed.append("valence not negative")
    if want["valence"] == "positive" and not affect.valence > 0:
        failed.append("valence not positive")
    if want["not_joy"] and affect.label == "joy":
        failed.append("read as joy")
    if want["not_negative"] and affect.label in NEGATIVE_LABELS:
        failed.append(f"read as {affect.label}")
    if want["incongruent"] is True and not (
        affect.incongruent and "text~face" in affect.disagreements
    ):
        failed.append("not flagged incongruent")
    if want["incongruent"] is False and affect.incongruent:
        failed.append("flagged incongruent")
    if ("hedged" in affect.cues) is not want["hedged"]:
        failed.append("hedged cue " + ("missing" if want["hedged"] else "where there is no hedge"))
    return failed


def _png(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def face_image(source: str, renderer: Any = None) -> bytes:
    """The encoded image of a face ``source`` (see :data:`FACES`); ``render:*`` needs the
    portrait renderer (an :class:`~modalities.avatar.base.AvatarRenderer` over the default
    portrait). The LFW crops and the Hopper portrait come from scikit-image and matplotlib
    (``pip install 'attune[eval]'``)."""
    try:
        return _face_image(source, renderer)
    except ImportError as exc:
        from attune.errors import BackendUnavailableError

        raise BackendUnavailableError(
            f"the fusion set's faces need scikit-image and matplotlib ({exc.name} is not "
            "installed): pip install 'attune[eval]'"
        ) from exc


def _face_image(source: str, renderer: Any) -> bytes:
    if source == "portrait":
        from modalities.avatar.portrait import default_portrait

        return default_portrait()
    if source.startswith("render:"):
        return _png(render_expression(renderer, source.removeprefix("render:")))
    if source.startswith("lfw:"):
        from PIL import Image
        from skimage import data

        crop = (np.asarray(data.lfw_subset()[int(source[4:])]) * 255 + 0.5).astype(np.uint8)
        return _png(np.asarray(Image.fromarray(crop).resize((200, 200), Image.Resampling.BICUBIC)))
    if source == "hopper":
        from pathlib import Path

        import matplotlib

        return (Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").read_bytes()
    raise ValueError(f"unknown face source {source!r}")


def render_expression(renderer: Any, name: str) -> np.ndarray:
    """One frame of ``renderer`` with the expression row ``name``, mouth at rest, head still."""
    from modalities.avatar.cues import COLUMNS, EXPRESSIONS, AvatarCues

    e = EXPRESSIONS[name]
    columns: dict[str, list[float]] = {c: [0.0] for c in COLUMNS}
    columns.update(
        smile=[e.smile], brow_raise=[e.brow_raise], brow_inner=[e.brow_inner],
        eye_open=[e.eye_open], head_roll=[e.head_tilt],
    )  # fmt: skip
    cues = AvatarCues(fps=25, offset=0.0, frames=1, expression=name, **columns)
    return np.asarray(renderer.render_frame(cues, 0))


def _face_row(face: Face, reading: FaceReading) -> dict[str, Any]:
    return {
        "face": face.name,
        "known": face.known,
        "why": face.why,
        "detected": reading.detected,
        "read": reading.label,
        "confidence": round(reading.confidence, 3),
        "read_ok": bool(reading.detected and reading.label == face.known),
    }


def evaluate_fusion(
    text_emotion: Any,
    face_model: Any,
    renderer: Any,
    settings: Any,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Every utterance with every face through ``text_emotion``, ``face_model`` and
    :func:`~modalities.fusion.fuse_affect` (``settings``: the fusion settings); the report."""
    from modalities.fusion import fuse_affect

    emotions = {
        (kind, text): text_emotion.analyze(text)
        for kind, texts in UTTERANCES.items()
        for text in texts
    }
    faces, cases = [], []
    for n, face in enumerate(FACES, 1):
        reading = face_model.analyze(face_image(face.source, renderer))
        row = _face_row(face, reading)
        faces.append(row)
        for (kind, text), emotion in emotions.items():
            affect = fuse_affect(emotion, None, reading, settings, words=text)
            assert affect is not None
            want = expected(kind, face.known)
            failed = check(affect, want)
            cases.append({
                "face": face.name,
                "known": face.known,
                "kind": kind,
                "text": text,
                "label": affect.label,
                "valence": round(affect.valence, 3),
                "incongruence": round(affect.incongruence, 3),
                "incongruent": affect.incongruent,
                "cues": list(affect.cues),
                "confidence": {k: round(v, 3) for k, v in affect.confidence.items()},
                "expected": want,
                "status": "face_misread" if not row["read_ok"] else ("fail" if failed else "pass"),
                "failed": failed,
            })  # fmt: skip
        if progress is not None:
            progress(n, len(FACES))
    return summarise(faces, cases)


def summarise(faces: list[dict[str, Any]], cases: list[dict[str, Any]]) -> dict[str, Any]:
    """The report: the face model on the faces, fusion's pass rate over the cases whose face
    was read as known, per cell (kind x known expression), and every case."""
    scored = [c for c in cases if c["status"] != "face_misread"]
    cells: dict[str, dict[str, Any]] = {}
    for c in scored:
        cell = cells.setdefault(
            f"{c['kind']} x {c['known']}", {"n": 0, "pass": 0, "flagged": 0, "valence": []}
        )
        cell["n"] += 1
        cell["pass"] += c["status"] == "pass"
        cell["flagged"] += c["incongruent"]
        cell["valence"].append(c["valence"])
    for cell in cells.values():
        values = cell.pop("valence")
        cell["valence_mean"] = round(float(np.mean(values)), 3)
        cell["valence_max"] = round(float(np.max(values)), 3)
    return {
        "n_faces": len(faces),
        "face_accuracy": round(sum(f["read_ok"] for f in faces) / len(faces), 3),
        "faces_misread": [f["face"] for f in faces if not f["read_ok"]],
        "n_cases": len(cases),
        "n_scored": len(scored),
        "n_face_misread": len(cases) - len(scored),
        "pass_rate": round(sum(c["status"] == "pass" for c in scored) / max(1, len(scored)), 4),
        "failures": [c for c in scored if c["status"] == "fail"],
        "cells": dict(sorted(cells.items())),
        "faces": faces,
        "cases": cases,
    }
