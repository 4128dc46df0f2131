"""One prompt format for the tuned reply model, shared by training and by the reply node.

The adapter is trained on exactly what the reply node sends, so the two must not drift:

- a short system message that never changes;
- the recent dialogue as alternating user / assistant messages (consecutive messages of one
  speaker joined), each cut to :data:`MESSAGE_CHARS` characters from its end;
- the person's message, followed by the control line ``Strategy: <name>``.

Everything before the last user message is the same from one turn to the next, so llama.cpp's
prompt cache reuses it; only the new messages and the control line are read each turn.

Training examples come from ESConv (CC BY-NC 4.0): each supporter utterance that directly answers
a seeker message is a target, the dialogue before that message is the history.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from attune.taxonomy import Strategy
from attune.types import ChatMessage
from strategies.data import Dialogue

SYSTEM_PROMPT = (
    "You are a caring listener supporting someone through a hard time. "
    "Reply in one or two short, warm sentences about what they said."
)
#: How many earlier messages the tuned model sees (after joining a speaker's runs).
HISTORY_MESSAGES = 2
#: Longer messages keep their last this many characters (the end is what is being answered).
MESSAGE_CHARS = 240


def control_line(strategy: Strategy) -> str:
    """The line that tells the tuned model which strategy to use."""
    return f"Strategy: {strategy.value}"


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_CHARS else "…" + text[-MESSAGE_CHARS:].lstrip()


def tuned_messages(
    history: Sequence[ChatMessage], user_text: str, strategy: Strategy
) -> list[ChatMessage]:
    """The tuned model's prompt: system, the last :data:`HISTORY_MESSAGES` messages of
    ``history`` (runs of one role joined), then ``user_text`` with the strategy's control line."""
    joined: list[ChatMessage] = []
    for message in history:
        if message.role not in ("user", "assistant") or not message.content.strip():
            continue
        if joined and joined[-1].role == message.role:
            merged = f"{joined[-1].content} {message.content}"
            joined[-1] = ChatMessage(role=message.role, content=merged)
        else:
            joined.append(ChatMessage(role=message.role, content=message.content))
    recent = joined[-HISTORY_MESSAGES:] if HISTORY_MESSAGES else []
    if recent and recent[-1].role == "user":
        # two user messages in a row: the earlier one belongs with the new one
        user_text = f"{recent.pop().content} {user_text}"
    out = [ChatMessage(role="system", content=SYSTEM_PROMPT)]
    out.extend(ChatMessage(role=m.role, content=_clip(m.content)) for m in recent)
    out.append(ChatMessage(role="user", content=f"{_clip(user_text)}\n{control_line(strategy)}"))
    return out


@dataclass(frozen=True)
class ReplyExample:
    """One supporter utterance answering a seeker message, with what came before it."""

    history: tuple[ChatMessage, ...]
    user_text: str
    reply: str
    strategy: Strategy
    dialogue_index: int
    turn_index: int

    def messages(self, strategy: Strategy | None = None) -> list[ChatMessage]:
        """The prompt for this example (with the gold strategy unless another is given)."""
        return tuned_messages(self.history, self.user_text, strategy or self.strategy)


def reply_examples(dialogues: Sequence[Dialogue]) -> Iterator[ReplyExample]:
    """Every supporter utterance that directly follows a seeker message: the seeker's run of
    messages is the input, everything before it the history."""
    for d_index, dialogue in enumerate(dialogues):
        turns = dialogue.turns
        for index, turn in enumerate(turns):
            if turn.speaker != "supporter" or turn.strategy is None or not turn.text.strip():
                continue
            if index == 0 or turns[index - 1].speaker != "seeker":
                continue
            start = index - 1
            while start > 0 and turns[start - 1].speaker == "seeker":
                start -= 1
            user_text = " ".join(t.text.strip() for t in turns[start:index] if t.text.strip())
            if not user_text:
                continue
            history = tuple(
                ChatMessage(
                    role="user" if t.speaker == "seeker" else "assistant",
                    content=t.text,
                    strategy=t.strategy if t.speaker == "supporter" else None,
                )
                for t in turns[:start]
                if t.text.strip()
            )
            yield ReplyExample(history, user_text, turn.text.strip(), turn.strategy, d_index, index)
