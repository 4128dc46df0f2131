"""Attune's typed vocabulary: every value that crosses a boundary between packages, the graph
state and the wire is one of these named types, never an ad-hoc dict or tuple.

Pydantic models (frozen) because they are also wire data and checkpointed graph state. Hot media
(audio, images) are dataclasses over numpy arrays (:class:`Audio`): they are never checkpointed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from attune.taxonomy import Strategy


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


# --- media -----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Audio:
    """Mono audio: ``samples`` float32 in [-1, 1], shape ``(n,)``, at ``sample_rate`` Hz.

    Build one with :func:`modalities.audio.load_audio` (files, WAV/FLAC/OGG bytes) or
    :func:`modalities.audio.from_pcm16` (raw PCM16): both validate and convert.
    """

    samples: np.ndarray
    sample_rate: int

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return float(len(self.samples)) / float(self.sample_rate)


# --- speech perception ------------------------------------------------------------------------


class WordTiming(_Frozen):
    """One recognised (or synthesised) word and when it was said, in seconds from the start."""

    word: str
    start: float = Field(ge=0.0)
    end: float = Field(ge=0.0)
    probability: float | None = Field(default=None, ge=0.0, le=1.0)


class TranscriptSegment(_Frozen):
    """A stretch of recognised speech. ``confidence`` in [0, 1] is the mean token probability
    (``exp`` of the average log-probability); ``no_speech_prob`` the model's belief that the
    stretch held no speech."""

    text: str
    start: float = Field(ge=0.0)
    end: float = Field(ge=0.0)
    confidence: float = Field(ge=0.0, le=1.0)
    no_speech_prob: float = Field(default=0.0, ge=0.0, le=1.0)
    words: list[WordTiming] = Field(default_factory=list)


class Transcript(_Frozen):
    """What the ASR heard in one utterance."""

    text: str
    language: str = "en"
    segments: list[TranscriptSegment] = Field(default_factory=list)
    duration: float = Field(default=0.0, ge=0.0)
    backend: str = ""

    @property
    def confidence(self) -> float:
        """Duration-weighted mean segment confidence (0 when nothing was heard)."""
        total = sum(max(s.end - s.start, 1e-3) for s in self.segments)
        if not self.segments or total <= 0:
            return 0.0
        return sum(s.confidence * max(s.end - s.start, 1e-3) for s in self.segments) / total

    @property
    def words(self) -> list[WordTiming]:
        return [w for s in self.segments for w in s.words]


class ProsodyFeatures(_Frozen):
    """Acoustic features of one utterance (``modalities/speech/prosody.py`` computes them).

    Pitch in Hz over voiced frames (``None`` when nothing was voiced); ``f0_range_st`` is the
    5th-95th percentile span in semitones; ``energy_db`` the mean RMS level of voiced frames in
    dBFS; ``speaking_rate`` syllables per second of speech (energy peaks, or the syllables of
    the transcript's words when one is given); ``pause_ratio`` the share of the utterance that
    is silence.
    """

    duration: float = Field(ge=0.0)
    f0_mean_hz: float | None = None
    f0_range_st: float | None = None
    energy_db: float
    energy_range_db: float = 0.0
    speaking_rate: float = Field(ge=0.0)
    pause_ratio: float = Field(ge=0.0, le=1.0)
    voiced_ratio: float = Field(ge=0.0, le=1.0)


class ProsodyBaseline(_Frozen):
    """One speaker's running prosody statistics, kept in the session state between turns.

    Per feature name (the numeric fields of :class:`ProsodyFeatures` that prosody normalises):
    how many utterances gave it (``counts``), its running ``means`` and population
    ``variances``. ``utterances`` counts the utterances folded in.
    ``modalities.speech.prosody.update_baseline`` computes it; it is replaced, never mutated.
    """

    utterances: int = Field(default=0, ge=0)
    counts: dict[str, int] = Field(default_factory=dict)
    means: dict[str, float] = Field(default_factory=dict)
    variances: dict[str, float] = Field(default_factory=dict)


class SpeechEmotion(_Frozen):
    """Affect read from how something was said (not what was said).

    ``arousal`` in [0, 1] (0.5 = the speaker's usual), ``valence`` in [-1, 1] (prosody gives only
    a weak valence cue); ``confidence`` in [0, 1]; ``scores`` over the common label set when the
    backend gives a distribution; ``cues`` short human-readable phrases ("quiet", "slow",
    "wide pitch range") for explanations; ``normalized`` is whether the features were normalised
    against this speaker's own earlier turns.
    """

    arousal: float = Field(ge=0.0, le=1.0)
    valence: float = Field(ge=-1.0, le=1.0)
    confidence: float = Field(ge=0.0, le=1.0)
    scores: dict[str, float] = Field(default_factory=dict)
    features: ProsodyFeatures | None = None
    cues: list[str] = Field(default_factory=list)
    normalized: bool = False
    backend: str = ""


# --- face perception --------------------------------------------------------------------------

#: The 7 expression classes of the FER2013 models (``fer``'s order).
FER_LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


class FaceGeometry(_Frozen):
    """Geometric cues from the 468-point face mesh, each normalised by the face size.

    ``mouth_corner`` > 0 when the corners sit above the mouth centre (a smile), < 0 when below;
    ``mouth_open`` lip gap over face height; ``mouth_width`` corner distance over face width;
    ``brow_raise`` brow-to-eye distance over face height; ``eye_open`` mean eyelid gap over eye
    width.
    """

    mouth_corner: float
    mouth_open: float
    mouth_width: float
    brow_raise: float
    eye_open: float


class FaceReading(_Frozen):
    """Expression read from one image (or a smoothed window of frames).

    ``detected`` false is a valid reading (no face), not an error. ``faces`` counts the faces
    found; the largest is read. ``box`` is ``(x, y, w, h)`` in pixels of the input image.
    ``scores`` is a distribution over :data:`FER_LABELS`; ``stability`` in [0, 1] (1 = the
    expression held steady over the tracker's window; ``None`` for a single image).
    """

    detected: bool
    faces: int = 0
    box: tuple[int, int, int, int] | None = None
    scores: dict[str, float] = Field(default_factory=dict)
    label: str | None = None
    valence: float = Field(default=0.0, ge=-1.0, le=1.0)
    arousal: float = Field(default=0.0, ge=0.0, le=1.0)
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    geometry: FaceGeometry | None = None
    stability: float | None = Field(default=None, ge=0.0, le=1.0)
    frames: int = 1
    backend: str = ""


# --- fusion -----------------------------------------------------------------------------------

Modality = Literal["text", "speech", "face"]
#: The common label set of the fused affect: Ekman's six plus neutral.
AFFECT_LABELS: tuple[str, ...] = (
    "anger",
    "disgust",
    "fear",
    "joy",
    "sadness",
    "surprise",
    "neutral",
)


class FusedAffect(_Frozen):
    """One affect estimate from every modality present (``modalities/fusion``).

    ``scores`` is a distribution over :data:`AFFECT_LABELS`; ``confidence`` per modality in
    [0, 1] (the weight it got); ``incongruence`` in [0, 1] with ``incongruent`` when it passes
    the threshold, and ``disagreements`` naming the pairs that disagree (e.g. ``"text~face"``);
    ``explanation`` is a short account of the cues behind the estimate, for people.
    """

    scores: dict[str, float]
    label: str
    valence: float = Field(ge=-1.0, le=1.0)
    arousal: float = Field(ge=0.0, le=1.0)
    intensity: float = Field(ge=0.0, le=1.0)
    confidence: dict[str, float] = Field(default_factory=dict)
    incongruence: float = Field(default=0.0, ge=0.0, le=1.0)
    incongruent: bool = False
    disagreements: list[str] = Field(default_factory=list)
    explanation: str = ""
    #: Verbal cues fusion read in the words (``modalities/fusion/cues.py``): the adverse events
    #: named (``"bereavement"``, ``"failure"``...) and ``"hedged"`` when they were played down.
    cues: list[str] = Field(default_factory=list)


# --- speech output ----------------------------------------------------------------------------


class VoiceStyle(_Frozen):
    """How the reply is spoken: ``speed`` (1 = the voice's normal rate), ``pitch`` in semitones
    relative to the voice, ``gain_db``; ``name`` names the table row (``modalities/voice``)."""

    name: str = "neutral"
    speed: float = Field(default=1.0, gt=0.25, le=4.0)
    pitch: float = Field(default=0.0, ge=-12.0, le=12.0)
    gain_db: float = Field(default=0.0, ge=-24.0, le=12.0)


# --- reasoning --------------------------------------------------------------------------------

#: Where a chain-of-empathy step came from: the LLM, what the person said (``dialogue``), or
#: perception (the emotion readings).
AppraisalSource = Literal["llm", "dialogue", "perception"]


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
    #: The user barged in: ``content`` is only what was said before the interruption.
    interrupted: bool = False


class GenerationParams(_Frozen):
    """Sampling settings for one LLM call."""

    max_tokens: int = Field(default=96, ge=1, le=4096)
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    stop: tuple[str, ...] = ()
    seed: int | None = None
    #: A JSON schema the output must follow; honoured by backends whose capabilities say so.
    json_schema: dict[str, object] | None = None
    #: Generate past the model's end-of-turn token, until ``max_tokens`` or a stop string (to
    #: continue a reply that ended too soon); honoured by backends that say ``continues``.
    ignore_eos: bool = False
    #: Penalise extending a word sequence already in the context (llama.cpp's DRY sampler);
    #: 0 is off. Backends without such a sampler ignore it.
    repeat_penalty: float = Field(default=0.0, ge=0.0, le=4.0)


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


#: The graded response: ``none``; ``concern`` (risk indicators without stated intent, plan or
#: means: the normal reply plus a gentle, direct check-in); ``crisis`` (the safe reply).
SafetyTier = Literal["none", "concern", "crisis"]
SAFETY_TIERS: tuple[SafetyTier, ...] = ("none", "concern", "crisis")


class SafetyAssessment(_Frozen):
    """The safety check of one user message (``agent/safety``).

    ``tier`` is the decision and ``crisis`` is ``tier == "crisis"``; ``category`` the crisis
    category the risk is about (``None`` on ``none``); ``confidence`` in [0, 1] is the
    classifier's risk probability, or higher for a direct phrase or an answer; ``matched_by``
    says which parts fired (``pattern``, ``indicator``, ``classifier``, ``answer``,
    ``follow_up``); ``reason`` says why, in words, without the message's text; ``check_in`` is
    the question that ends the reply on ``concern``; ``resources`` are the locale's resources
    for the category (only on a crisis).
    """

    tier: SafetyTier = "none"
    crisis: bool
    category: CrisisCategory | None = None
    confidence: float = Field(ge=0.0, le=1.0)
    scores: dict[str, float] = Field(default_factory=dict)
    matched_by: tuple[str, ...] = ()
    reason: str = ""
    check_in: str | None = None
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
    transcript: Transcript | None = None
    speech_emotion: SpeechEmotion | None = None
    face: FaceReading | None = None
    affect: FusedAffect | None = None
    appraisal: Appraisal | None = None
    strategy: StrategyDecision | None = None
    safety: SafetyAssessment | None = None
    reply_check: ReplyCheck | None = None
    #: The turn was cancelled (barge-in) before it finished; ``reply`` is what was generated.
    interrupted: bool = False
    #: The rendered talking-head video of the reply (when asked for), an MP4 file path.
    video_path: str | None = None
    timings_ms: dict[str, float] = Field(default_factory=dict)


class _Event(_Frozen):
    """A streamed event of a turn. The graph's nodes emit these models; ``turn_id`` is set by
    :meth:`agent.Attune.stream_turn`. :attr:`data` is the payload as the wire carries it (JSON
    values), the shape the protocol's ``turn.event`` messages have."""

    turn_id: str = ""

    @property
    def data(self) -> dict[str, Any]:
        """The payload as JSON values: the fields the node set (``type`` and ``turn_id`` apart)."""
        return self.model_dump(mode="json", exclude={"type", "turn_id"}, exclude_unset=True)


class PerceptionEvent(_Event):
    """One modality's reading (``transcript`` with ``speech_emotion``, ``text_emotion`` or
    ``face``), or, last, the fused ``affect``."""

    type: Literal["perception"] = "perception"
    transcript: Transcript | None = None
    speech_emotion: SpeechEmotion | None = None
    text_emotion: TextEmotion | None = None
    face: FaceReading | None = None
    affect: FusedAffect | None = None


class SafetyEvent(_Event):
    """The safety check of the message, every text turn (on *concern* the reply ends with the
    check-in question)."""

    type: Literal["safety"] = "safety"
    tier: SafetyTier
    category: CrisisCategory | None = None
    reason: str = ""
    matched_by: list[str] = Field(default_factory=list)


class CrisisEvent(_Event):
    """A crisis: the safe reply follows, with these resources (a kiosk or server may alert
    staff on it)."""

    type: Literal["crisis"] = "crisis"
    category: CrisisCategory | None = None
    confidence: float = 0.0
    matched_by: list[str] = Field(default_factory=list)
    locale: str = ""
    resources: list[CrisisResource] = Field(default_factory=list)


class AppraisalEvent(_Event):
    """The chain of empathy of the turn."""

    type: Literal["appraisal"] = "appraisal"
    appraisal: Appraisal


class StrategyEvent(_Event):
    """The strategy of the reply (on a crisis: the override)."""

    type: Literal["strategy"] = "strategy"
    strategy: StrategyDecision


class ReplyDeltaEvent(_Event):
    """More of the reply's text as it is written."""

    type: Literal["reply.delta"] = "reply.delta"
    text: str


class ReplySentenceEvent(_Event):
    """A sentence of the reply that can no longer change, announced while the reply streams in
    a low-latency voice turn (``voice.low_latency``): the speech stage speaks it at once, a
    kiosk may caption it. The reply can still be replaced afterwards (the output guard);
    ``reply.done`` is authoritative."""

    type: Literal["reply.sentence"] = "reply.sentence"
    text: str


class SpeechStyleEvent(_Event):
    """How this turn's reply is spoken and shown, decided by the reply node before its first
    word (only when the reply is to be spoken): the ``voice`` style and, when the avatar was
    asked for, the supporter's ``expression`` (:class:`modalities.avatar.cues.Expression` as
    JSON)."""

    type: Literal["speech.style"] = "speech.style"
    voice: VoiceStyle
    expression: dict[str, Any] | None = None


class AudioChunkEvent(_Event):
    """One spoken sentence: ``chunk`` is a :class:`modalities.voice.base.SpeechChunk` (audio
    and timings: an object, not JSON; the server encodes it), ``style`` how it was spoken."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    type: Literal["audio.chunk"] = "audio.chunk"
    chunk: Any
    style: VoiceStyle | None = None

    @property
    def data(self) -> dict[str, Any]:
        """``chunk`` as the object, ``style`` as JSON."""
        style = self.style.model_dump(mode="json") if self.style is not None else None
        return {"chunk": self.chunk, "style": style}


class AvatarCuesEvent(_Event):
    """The avatar's cue timeline of the sentence just spoken (JSON; see
    :class:`modalities.avatar.cues.AvatarCues`)."""

    type: Literal["avatar.cues"] = "avatar.cues"
    cues: dict[str, Any]


class AvatarVideoEvent(_Event):
    """The talking-head video of the reply, when one was asked for: its ``path``."""

    type: Literal["avatar.video"] = "avatar.video"
    path: str
    seconds: float = 0.0


class ReplyDoneEvent(_Event):
    """The end of the turn: the reply as kept (authoritative) and the whole result."""

    type: Literal["reply.done"] = "reply.done"
    text: str
    result: TurnResult


#: The events of a turn, in the order they come: ``perception``+ -> ``safety`` -> ``appraisal``
#: -> ``strategy`` -> ``speech.style``? -> (``reply.delta`` | ``reply.sentence``)* ->
#: (``audio.chunk`` ``avatar.cues``?)* -> ``avatar.video``? -> ``reply.done``; on a crisis
#: ``perception``+ -> ``safety`` -> ``crisis`` -> ``strategy`` (overridden) -> ``speech.style``?
#: -> ``reply.delta`` -> ``audio.chunk``* -> ``reply.done``. The graph emits everything up to
#: the reply's text; the speech stage (:mod:`agent.speech`) the audio, cues and video, so
#: ``audio.chunk`` events interleave with ``reply.delta`` once a sentence is final. A union
#: discriminated by ``type``: ``event.type`` tells which, ``event.data`` is the wire payload.
TurnEvent = Annotated[
    PerceptionEvent
    | SafetyEvent
    | CrisisEvent
    | AppraisalEvent
    | StrategyEvent
    | ReplyDeltaEvent
    | ReplySentenceEvent
    | SpeechStyleEvent
    | AudioChunkEvent
    | AvatarCuesEvent
    | AvatarVideoEvent
    | ReplyDoneEvent,
    Field(discriminator="type"),
]
#: The event classes (the members of :data:`TurnEvent`), for ``isinstance``.
TURN_EVENTS: tuple[type[_Event], ...] = get_args(get_args(TurnEvent)[0])


#: Every model class that may be stored in a checkpoint (the deserialisation allowlist).
CHECKPOINT_TYPES: tuple[type, ...] = (
    Strategy,
    TextEmotion,
    WordTiming,
    TranscriptSegment,
    Transcript,
    ProsodyFeatures,
    ProsodyBaseline,
    SpeechEmotion,
    FaceGeometry,
    FaceReading,
    FusedAffect,
    VoiceStyle,
    Appraisal,
    StrategyDecision,
    ChatMessage,
    CrisisResource,
    SafetyAssessment,
    ReplyCheck,
)
