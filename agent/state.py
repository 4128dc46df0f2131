"""The graph's typed state and its reducers.

Per-turn keys (``user_text`` ... ``reply_check``) are reset by the input of each turn; ``history``
is the conversation so far and grows through its reducer (``merge_history``); ``last_crisis`` is
written by the safety check of every turn; ``prosody_baseline`` accumulates the speaker's voice
over the session; the checkpointer keeps the whole state per session (thread id).
"""

from __future__ import annotations

from typing import Annotated, TypedDict

from attune.taxonomy import Strategy
from attune.types import (
    Appraisal,
    ChatMessage,
    FaceReading,
    FusedAffect,
    ProsodyBaseline,
    ReplyCheck,
    SafetyAssessment,
    SpeechEmotion,
    StrategyDecision,
    TextEmotion,
    Transcript,
)


def merge_timings(old: dict[str, float] | None, new: dict[str, float] | None) -> dict[str, float]:
    """Reducer for per-node timings: ``None`` resets (a new turn), a dict adds entries."""
    if new is None:
        return {}
    return {**(old or {}), **new}


def merge_history(
    old: list[ChatMessage] | None, new: list[ChatMessage] | None
) -> list[ChatMessage]:
    """Reducer for the conversation: messages are appended, except that a message with the
    ``turn_id`` and ``role`` of one already present replaces it (how an interrupted reply is
    cut back to what was actually said, :meth:`agent.Attune.truncate_reply`)."""
    merged = list(old or [])
    index: dict[tuple[str | None, str], int] = {
        (m.turn_id, m.role): i for i, m in enumerate(merged) if m.turn_id is not None
    }
    for message in new or []:
        key = (message.turn_id, message.role)
        if message.turn_id is not None and key in index:
            merged[index[key]] = message
        else:
            index[key] = len(merged)
            merged.append(message)
    return merged


class AttuneState(TypedDict, total=False):
    """What flows through the graph for one session."""

    turn_id: str
    #: Which inputs this turn carries (``text``, ``audio``, ``image``): routes perception.
    inputs: list[str]
    #: Whether the client wants the reply spoken (the reply node then emits ``speech.style``
    #: and announces final sentences for the speech stage, :mod:`agent.speech`).
    speak: bool
    #: Whether the client wants the avatar (``speech.style`` then carries its expression).
    avatar: bool
    #: The user's typed text and/or the transcript of what they said, already validated.
    user_text: str | None
    text_emotion: TextEmotion | None
    transcript: Transcript | None
    speech_emotion: SpeechEmotion | None
    face: FaceReading | None
    #: The fused affect of every modality present (``fuse_affect``).
    affect: FusedAffect | None
    #: Running prosody statistics of this speaker (session-level, not reset per turn).
    prosody_baseline: ProsodyBaseline | None
    #: The crisis check of ``user_text`` (``check_safety``).
    safety: SafetyAssessment | None
    appraisal: Appraisal | None
    strategy: StrategyDecision | None
    reply: str | None
    #: The output guard's verdict on a generated reply (``None`` on a crisis turn).
    reply_check: ReplyCheck | None
    #: The last turn's assessment when it was a crisis, else ``None``: the next message is read
    #: as a possible answer to "are you safe right now?" (session-level, not reset per turn).
    last_crisis: SafetyAssessment | None
    #: The conversation so far; each turn appends its user and assistant messages.
    history: Annotated[list[ChatMessage], merge_history]
    #: A strategy imposed by the caller for this turn (evaluation with the gold strategy).
    given_strategy: Strategy | None
    timings_ms: Annotated[dict[str, float], merge_timings]


def new_turn_input(
    turn_id: str,
    user_text: str | None,
    *,
    inputs: list[str] | None = None,
    speak: bool = False,
    avatar: bool = False,
    video: bool = False,
    strategy: Strategy | None = None,
) -> AttuneState:
    """The input that starts a turn: per-turn keys reset, history untouched. Asking for video
    implies the avatar, and the avatar implies speech (the video itself is the speech stage's).
    ``strategy`` imposes the turn's support strategy instead of the planner's choice."""
    return AttuneState(
        given_strategy=strategy,
        turn_id=turn_id,
        inputs=inputs if inputs is not None else (["text"] if user_text else []),
        speak=speak or avatar or video,
        avatar=avatar or video,
        user_text=user_text,
        text_emotion=None,
        transcript=None,
        speech_emotion=None,
        face=None,
        affect=None,
        safety=None,
        appraisal=None,
        strategy=None,
        reply=None,
        reply_check=None,
        timings_ms=None,  # type: ignore[typeddict-item]  # None resets through merge_timings
    )
