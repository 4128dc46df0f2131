"""Chain-of-empathy appraisal: parse the LLM's answer, validate it, and fall back to perception.

The chain is event scenario -> the user's emotion -> its cause -> the goal of the reply. The LLM
proposes each step; a step that is missing, empty, a placeholder, an echo of the instructions, or
(for the emotion) contradicts what perception measured is replaced by the deterministic step
built from perception, and the trace records which source each step came from.
"""

from __future__ import annotations

import json
import logging
import re
import weakref
from collections.abc import Sequence
from typing import Any

from attune.types import Appraisal, AppraisalSource, FusedAffect, TextEmotion
from modalities.fusion.cues import verbal_cues
from modalities.text.base import Embedder
from modalities.text.labels import AFFECT_COORDINATES
from strategies.background import PROBLEM_WORDS, BackgroundClassifier, BackgroundGuess

log = logging.getLogger(__name__)

#: The background classifier's problem type names the event only at this probability or more.
PROBLEM_MIN_P = 0.4
#: Its emotion type is added to the emotion step only at this probability or more.
EMOTION_MIN_P = 0.5

FIELDS = ("event", "emotion", "cause", "goal")

#: The JSON schema given to LLMs that support constrained decoding.
APPRAISAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {k: {"type": "string", "maxLength": 160} for k in FIELDS},
    "required": list(FIELDS),
    "additionalProperties": False,
}

_MAX_FIELD_CHARS = 200
_PLACEHOLDERS = {"", "...", "string", "n/a", "none", "unknown", "null", "-", "?"}

_GOALS = {
    "sadness": "comfort them and make room for the loss they feel",
    "fear": "help them feel safer and less alone with the worry",
    "anger": "acknowledge the frustration so they feel heard",
    "disgust": "validate their reaction without judging anyone",
    "joy": "share their happiness and let them enjoy it",
    "surprise": "help them make sense of what happened",
    "neutral": "understand what they would like to talk about",
}

_INTENSITY_WORDS = ((0.75, "strongly"), (0.4, "clearly"), (0.0, "a little"))

#: Common emotion words an LLM uses beyond the GoEmotions labels, with their valence sign.
_EXTRA_VALENCE = {
    "sad": -1, "upset": -1, "hurt": -1, "lonely": -1, "anxious": -1, "worried": -1,
    "scared": -1, "afraid": -1, "angry": -1, "mad": -1, "frustrated": -1, "stressed": -1,
    "depressed": -1, "heartbroken": -1, "devastated": -1, "hopeless": -1, "guilty": -1,
    "ashamed": -1, "overwhelmed": -1, "tired": -1, "exhausted": -1, "lost": -1, "grieving": -1,
    "happy": 1, "glad": 1, "excited": 1, "proud": 1, "relieved": 1, "grateful": 1,
    "thankful": 1, "hopeful": 1, "content": 1, "calm": 1, "loved": 1, "joyful": 1,
}  # fmt: skip

_PRONOUNS = [
    (r"\bI am\b", "they are"), (r"\bI'm\b", "they're"), (r"\bI've\b", "they've"),
    (r"\bI'll\b", "they'll"), (r"\bI'd\b", "they'd"), (r"\bI was\b", "they were"),
    (r"\bI\b", "they"), (r"\bmy\b", "their"), (r"\bMy\b", "Their"), (r"\bme\b", "them"),
    (r"\bmyself\b", "themselves"), (r"\bmine\b", "theirs"),
]  # fmt: skip

_CAUSE_MARKERS = re.compile(r"\b(?:because|since|after|as|when|due to)\b\s+(.+)", re.IGNORECASE)


def parse_appraisal(text: str) -> dict[str, str]:
    """Extract whatever chain steps an LLM answer contains.

    Accepts a JSON object anywhere in the text (also inside code fences), or ``Key: value`` lines
    (any case, bullets or numbering allowed). Returns only the steps found, stripped.
    """
    found: dict[str, str] = {}
    for match in re.finditer(r"\{.*?\}", text, flags=re.DOTALL):
        try:
            obj = json.loads(match.group(0))
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            for key, value in obj.items():
                name = str(key).strip().lower()
                if name in FIELDS and isinstance(value, str | int | float):
                    found.setdefault(name, str(value).strip())
    if found:
        return found
    line_re = re.compile(
        r"^\s*(?:[-*•]|\d+[.)])?\s*\**\s*(event|emotion|cause|goal)\s*\**\s*[:=-]\s*(.+)$",
        re.IGNORECASE,
    )
    for line in text.splitlines():
        m = line_re.match(line)
        if m:
            found.setdefault(m.group(1).lower(), m.group(2).strip().strip('"').strip())
    return found


def _valid_text(value: str | None) -> bool:
    if value is None:
        return False
    cleaned = value.strip().strip(".").strip().lower()
    if cleaned in _PLACEHOLDERS or len(value) > _MAX_FIELD_CHARS:
        return False
    # echoes of the instructions in the prompt
    return not any(p in cleaned for p in ("in a few words", "one or two words", "what happened to"))


def _valence_sign(words: str) -> int:
    """Sign of the valence the words express: -1, 0 (unknown or mixed) or 1."""
    total = 0.0
    for token in re.findall(r"[a-z]+", words.lower()):
        if token in AFFECT_COORDINATES and token != "neutral":
            total += AFFECT_COORDINATES[token][0]
        elif token in _EXTRA_VALENCE:
            total += _EXTRA_VALENCE[token]
    return (total > 0) - (total < 0)


def third_person(text: str) -> str:
    out = text
    for pattern, repl in _PRONOUNS:
        out = re.sub(pattern, repl, out)
    if text[:1].isupper() and out:
        out = out[0].upper() + out[1:]  # "I lost..." -> "They lost..."
    return out


def _first_sentence(text: str, max_words: int = 16) -> str:
    sentence = re.split(r"(?<=[.!?])\s+", text.strip(), maxsplit=1)[0].rstrip(".!?")
    words = sentence.split()
    return " ".join(words[:max_words]) + ("..." if len(words) > max_words else "")


def describe_emotion(emotion: TextEmotion | None) -> str:
    """A short phrase for the perceived emotion, e.g. ``"strongly sadness (grief)"``."""
    if emotion is None:
        return "unclear from the message"
    adverb = next(word for bound, word in _INTENSITY_WORDS if emotion.intensity >= bound)
    detail = [label for label in emotion.labels[:2] if label != emotion.primary_ekman]
    base = emotion.primary_ekman if emotion.primary_ekman != "neutral" else emotion.primary
    if base == "neutral":
        return "calm or neutral"
    return f"{adverb} {base}" + (f" ({', '.join(detail)})" if detail else "")


#: The background classifier per embedder instance, loaded once (``False``: not usable).
_BACKGROUND: weakref.WeakKeyDictionary[Embedder, Any] = weakref.WeakKeyDictionary()
#: The person's first messages the background is read from (as it was trained).
BACKGROUND_MESSAGES = 5


def read_background(embedder: Embedder, messages: Sequence[str]) -> BackgroundGuess | None:
    """The problem and emotion types of a conversation from the person's first messages, by
    the shipped classifier (:mod:`strategies.background`); ``None`` when it cannot be used
    with this embedder (another dimension, or the file is missing)."""
    cached = _BACKGROUND.get(embedder)
    if cached is None:
        try:
            cached = BackgroundClassifier.load(embedder)
        except OSError as exc:
            log.warning("background classifier not loaded (%s)", type(exc).__name__)
            cached = False
        _BACKGROUND[embedder] = cached
    said = [m for m in messages if m.strip()][:BACKGROUND_MESSAGES]
    if not isinstance(cached, BackgroundClassifier) or not said:
        return None
    classifier: BackgroundClassifier = cached
    try:
        return classifier.guess(said)
    except ValueError:  # an embedder of another dimension (a test fake)
        _BACKGROUND[embedder] = False
        return None


def _sentences(text: str) -> list[str]:
    # (agent.reply.split_sentences also splits after a closing quote or bracket)
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s.strip()]


def _contentful(sentence: str) -> bool:
    from agent.nodes.plan import is_phatic

    return len(re.findall(r"[A-Za-z']+", sentence)) >= 3 and not is_phatic(sentence)


def _states_a_feeling(words: str) -> bool:
    """Whether ``words`` only say how the person feels ("I feel so sad", "I'm upset"): then
    what follows "because" or "since" is the cause."""
    if verbal_cues(words).adverse:  # "I lost my job after ...": what precedes is the event
        return False
    tokens = re.findall(r"[a-z']+", words.lower())
    return any(t.startswith("feel") for t in tokens) or bool(
        re.search(r"\b(?:i'm|i am|i've been|i have been|i was|makes? me|made me)\b", words.lower())
        and any(t in _EXTRA_VALENCE or t in AFFECT_COORDINATES for t in tokens)
    )


def _cause_score(sentence: str, recency: float) -> float:
    cues = verbal_cues(sentence)
    return 2 * cues.strength + (1.0 if _CAUSE_MARKERS.search(sentence) else 0.0) + recency


def fallback_appraisal(
    message: str,
    emotion: TextEmotion | None,
    earlier: Sequence[str] = (),
    background: BackgroundGuess | None = None,
) -> dict[str, str]:
    """The chain grounded in what the person said and in perception (no LLM).

    ``earlier`` are the person's previous messages, oldest first; ``background`` the problem
    and emotion types read from them (:mod:`strategies.background`).

    - event: the problem type in words (when the classifier is fairly sure), then the first
      sentence of theirs that says something, in the third person;
    - emotion: perception, with the conversation's emotion type when it adds to it;
    - cause: the sentence of theirs (this message or earlier) that best explains the feeling:
      one naming an adverse event (a loss, a failure...) first, then one with "because",
      "since", "after"..., the more recent the better; the part after the marker if there is one;
    - goal: from the emotion, with the stage: early on, understanding what happened.
    """
    per_message = [[s for s in _sentences(m) if _contentful(s)] for m in [*earlier, message]]
    content = [s for sentences in per_message for s in sentences]
    first = third_person(_first_sentence(content[0])) if content else NOT_SAID_EVENT
    problem = (
        PROBLEM_WORDS.get(background.problem_type)
        if content and background is not None and background.problem_p >= PROBLEM_MIN_P
        else None
    )
    event = f"{problem}: {first}" if problem and problem != PROBLEM_WORDS["other"] else first
    if content:
        n = len(content)
        best = max(range(n), key=lambda i: (_cause_score(content[i], 0.5 * i / max(1, n - 1)), i))
        sentence = content[best]
        marker = _CAUSE_MARKERS.search(sentence)
        if marker is not None and not _states_a_feeling(sentence[: marker.start()]):
            marker = None  # "My sister stopped talking to me after the wedding": all of it
        cause = third_person(_first_sentence(marker.group(1) if marker else sentence))
    else:
        cause = NOT_SAID_CAUSE
    group = emotion.primary_ekman if emotion is not None else "neutral"
    feeling = describe_emotion(emotion)
    if (
        background is not None
        and background.emotion_p >= EMOTION_MIN_P
        and background.emotion_type not in feeling
        and background.emotion_type != "other"
    ):
        feeling += f"; over the conversation, {background.emotion_type}"
    goal = _GOALS.get(group, _GOALS["neutral"])
    adverse_before = any(verbal_cues(m).adverse for m in earlier)
    if group in ("joy", "neutral") and verbal_cues(message).hedges and adverse_before:
        # "I guess I'm fine, really" after telling of a loss: not a moment to celebrate
        goal = HEDGED_GOAL
    elif not goal.startswith("understand") and sum(map(bool, per_message)) <= 1:
        goal = f"understand what happened and {goal}"
    return {"event": event, "emotion": feeling, "cause": cause, "goal": goal}


def build_appraisal(
    message: str,
    emotion: TextEmotion | None,
    llm_output: str | None,
    earlier: Sequence[str] = (),
    background: BackgroundGuess | None = None,
) -> Appraisal:
    """Merge the LLM's steps (when valid) with the grounded chain, recording sources: ``llm``,
    ``dialogue`` (event and cause: what the person said) or ``perception`` (emotion, goal)."""
    fallback = fallback_appraisal(message, emotion, earlier, background)
    proposed = parse_appraisal(llm_output) if llm_output else {}
    steps: dict[str, str] = {}
    sources: dict[str, AppraisalSource] = {}
    for name in FIELDS:
        value = proposed.get(name)
        ok = _valid_text(value)
        if ok and name == "emotion" and emotion is not None and value is not None:
            # A confident perception outranks a small model that reads the opposite feeling.
            perceived = (emotion.valence > 0.15) - (emotion.valence < -0.15)
            ok = not (perceived and _valence_sign(value) == -perceived)
        if ok and value is not None:
            steps[name], sources[name] = value.rstrip("."), "llm"
        else:
            steps[name] = fallback[name]
            sources[name] = "dialogue" if name in ("event", "cause") else "perception"
    return Appraisal(sources=sources, **steps)


_MODALITY_NOUNS = {"text": "words", "speech": "voice", "face": "expression"}

#: The event and cause steps before the person has said what is wrong ("Hi").
NOT_SAID_EVENT = "they have not said what is on their mind yet"
NOT_SAID_CAUSE = "they have not said yet"

#: The goal when the person plays down what they told of earlier ("I guess I'm fine, really").
HEDGED_GOAL = "gently ask how they are really doing with what happened, without pushing"

#: The goal of the reply when the modalities disagree: reflect, do not take words at face value.
MIXED_GOAL = (
    "gently reflect the mixed feelings they may have and invite them to say more, "
    "rather than taking their words at face value"
)


def mixed_signals(affect: FusedAffect | None) -> str | None:
    """A phrase naming the channels that disagree (``"their words and their expression"``),
    or ``None`` when the fused affect is congruent."""
    if affect is None or not affect.incongruent or not affect.disagreements:
        return None
    channels: list[str] = []
    for pair in affect.disagreements:
        for modality in pair.split("~"):
            noun = _MODALITY_NOUNS.get(modality, modality)
            if noun not in channels:
                channels.append(noun)
    return " and ".join(f"their {noun}" for noun in channels)


def apply_affect(appraisal: Appraisal, affect: FusedAffect | None) -> Appraisal:
    """Fold the multimodal reading into the chain: when the channels disagree, the emotion step
    says so and the goal becomes reflecting the mixed feelings (recorded as perception)."""
    mixed = mixed_signals(affect)
    if mixed is None:
        return appraisal
    sources = {**appraisal.sources, "emotion": "perception", "goal": "perception"}
    emotion = f"{appraisal.emotion}, though {mixed} do not match (mixed feelings)"
    return appraisal.model_copy(update={"emotion": emotion, "goal": MIXED_GOAL, "sources": sources})
