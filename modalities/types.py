"""Attune's typed vocabulary: every value that crosses a boundary between packages, the graph
state and the wire is one of these named types, never an ad-hoc dict or tuple.

Pydantic models (frozen) because they are also wire data and checkpointed graph state. Hot media
(audio, frames) will be dataclasses over numpy arrays, added by the modality issues.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from strategies.taxonomy import Strategy


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- perception -------------------------------------------------------------------------------


class TextEmotion(_Frozen):
    """Emotion read from text: GoEmotions' 28 labels plus derived dimensions.

    ``scores`` are per-label probabilities (multi-label, they need not sum to 1); ``labels`` are
    those at or above their tuned threshold, strongest first (the top label when none is);
    ``ekman`` groups the scores into Ekman's 6 emotions plus neutral (max over members).
    ``valence`` is in [-1, 1]; ``arousal`` and ``intensity`` are in [0, 1]
    (see ``modalities/text/labels.py`` for how they are derived).
    """

    scores: dict[str, float]
    labels: list[str]
    ekman: dict[str, float]
    valence: float = Field(ge=-1.0, le=1.0)
    arousal: float = Field(ge=0.0, le=1.0)
    intensity: float = Field(ge=0.0, le=1.0)
    backend: str = ""

    @property
    def primary(self) -> str:
        """The strongest detected label."""
        return self.labels[0] if self.labels else "neutral"

    @property
    def primary_ekman(self) -> str:
        """The strongest Ekman group."""
        return max(self.ekman, key=lambda k: self.ekman[k]) if self.ekman else "neutral"


# --- reasoning --------------------------------------------------------------------------------

AppraisalSource = Literal["llm", "perception"]


class Appraisal(_Frozen):
    """The chain of empathy for one turn: scenario -> emotion -> cause -> goal of the reply.

    ``sources`` says, per step, whether the LLM produced it or the deterministic fallback did
    (built from perception), so the trace is explainable.
    """

    event: str
    emotion: str
    cause: str
    goal: str
    sources: dict[str, AppraisalSource] = Field(default_factory=dict)

    def as_lines(self) -> list[str]:
        """Human-readable trace lines, one per step."""
        return [
            f"event: {self.event}",
            f"emotion: {self.emotion}",
            f"cause: {self.cause}",
            f"goal: {self.goal}",
        ]


class StrategyDecision(_Frozen):
    """The planner's choice and its probability for each of the 8 strategies."""

    strategy: Strategy
    probabilities: dict[Strategy, float]
    planner: str
    overridden: bool = False
    reason: str | None = None


# --- language generation ----------------------------------------------------------------------

Role = Literal["system", "user", "assistant"]


class ChatMessage(_Frozen):
    """One message of a conversation, as given to an LLM and kept in the session history."""

    role: Role
    content: str
    strategy: Strategy | None = None
    turn_id: str | None = None


class GenerationParams(_Frozen):
    """Sampling settings for one LLM call."""

    max_tokens: int = Field(default=96, ge=1, le=4096)
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    stop: tuple[str, ...] = ()
    seed: int | None = None
    #: A JSON schema the output must follow; honoured by backends whose capabilities say so.
    json_schema: dict[str, object] | None = None


# --- care and safety --------------------------------------------------------------------------

CrisisCategory = Literal[
    "suicidal_ideation", "self_harm", "harm_to_others", "abuse_violence", "medical_emergency"
]
#: The crisis categories, in the order every safety metric table uses.
CRISIS_CATEGORIES: tuple[CrisisCategory, ...] = (
    "suicidal_ideation",
    "self_harm",
    "harm_to_others",
    "abuse_violence",
    "medical_emergency",
)


class CrisisResource(_Frozen):
    """One place a person in crisis can turn to (from the locale's resources table).

    ``categories`` lists the crisis categories it is for; empty means every category.
    """

    name: str
    contact: str
    description: str = ""
    url: str | None = None
    categories: tuple[CrisisCategory, ...] = ()


class SafetyAssessment(_Frozen):
    """The crisis check of one user message (``agent/safety``).

    ``crisis`` is the decision; ``category`` the most likely crisis category (``None`` when no
    crisis); ``confidence`` in [0, 1] is the classifier's crisis probability, or 1.0 for a direct
    phrase; ``matched_by`` says which parts fired (``pattern``, ``classifier``, ``follow_up``);
    ``resources`` are the locale's resources for the category (only on a crisis).
    """

    crisis: bool
    category: CrisisCategory | None = None
    confidence: float = Field(ge=0.0, le=1.0)
    scores: dict[str, float] = Field(default_factory=dict)
    matched_by: tuple[str, ...] = ()
    locale: str = ""
    resources: tuple[CrisisResource, ...] = ()


ReplyProblem = Literal["harmful", "dismissive", "prompt_leak"]


class ReplyCheck(_Frozen):
    """The final check of a generated reply: whether it was replaced by the safe fallback, and
    why (the first problem found); ``rejected_candidates`` counts sampled candidates dropped."""

    replaced: bool = False
    problem: ReplyProblem | None = None
    rejected_candidates: int = 0


class SessionInfo(_Frozen):
    """A stored session: its id, when it last changed (UTC, ISO 8601) and how many messages."""

    session_id: str
    updated_at: str | None = None
    messages: int = 0


# --- a turn -----------------------------------------------------------------------------------


class TurnResult(_Frozen):
    """Everything one user turn produced, as returned by :meth:`agent.Attune.turn`.

    ``safety`` is the crisis check of the message; on a crisis the reply is the safe reply and
    ``strategy.overridden`` is true. ``reply_check`` says whether the LLM's reply was replaced.
    """

    session_id: str
    turn_id: str
    reply: str
    text_emotion: TextEmotion | None = None
    appraisal: Appraisal | None = None
    strategy: StrategyDecision | None = None
    safety: SafetyAssessment | None = None
    reply_check: ReplyCheck | None = None
    timings_ms: dict[str, float] = Field(default_factory=dict)


EventType = Literal["perception", "crisis", "appraisal", "strategy", "reply.delta", "reply.done"]


class TurnEvent(_Frozen):
    """One streamed event of a turn, in the order the graph produces them.

    ``perception`` -> ``appraisal`` -> ``strategy`` -> ``reply.delta``* -> ``reply.done``; on a
    crisis: ``perception`` -> ``crisis`` -> ``strategy`` (overridden) -> ``reply.delta`` ->
    ``reply.done``. ``crisis`` carries ``category``, ``confidence`` and ``resources``.
    """

    type: EventType
    turn_id: str
    data: dict[str, object] = Field(default_factory=dict)


#: Every model class that may be stored in a checkpoint (the deserialisation allowlist).
CHECKPOINT_TYPES: tuple[type, ...] = (
    Strategy,
    TextEmotion,
    Appraisal,
    StrategyDecision,
    ChatMessage,
    CrisisResource,
    SafetyAssessment,
    ReplyCheck,
)
