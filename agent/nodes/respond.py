"""The reply node: generate a short reply for the strategy, conditioned on the appraisal."""

from __future__ import annotations

import time
from collections.abc import Callable

from langgraph.runtime import Runtime

from agent.context import AttuneContext
from agent.prompting import render, strategy_guides
from agent.reply import ReplyScorer, clean_reply, split_sentences
from agent.state import AttuneState
from modalities.types import Appraisal, ChatMessage, GenerationParams
from strategies.taxonomy import Strategy

MAX_SENTENCES = 3
#: Said when every candidate came out empty (a small model can do that on odd input).
FALLBACK_REPLY = "I'm here with you. Would you like to tell me a little more about it?"


def build_reply_messages(
    strategy: Strategy,
    appraisal: Appraisal | None,
    history: list[ChatMessage],
    user_text: str,
    history_limit: int,
) -> list[ChatMessage]:
    """System prompt, the strategy's worked examples, recent history, then the message."""
    guide = strategy_guides()[strategy]
    system = render("respond_system.j2", appraisal=appraisal, instruction=guide["instruction"])
    messages = [ChatMessage(role="system", content=system)]
    for example in guide["examples"][:2]:
        messages.append(ChatMessage(role="user", content=example["user"]))
        messages.append(ChatMessage(role="assistant", content=example["reply"]))
    recent = history[-history_limit:] if history_limit else []
    messages.extend(ChatMessage(role=m.role, content=m.content) for m in recent)
    messages.append(ChatMessage(role="user", content=user_text))
    return messages


def _stream_one(
    ctx: AttuneContext,
    messages: list[ChatMessage],
    params: GenerationParams,
    emit: Callable[[str], None],
) -> str:
    """Stream one reply, forwarding text as it comes and stopping after the last sentence."""
    raw = ""
    pieces = ctx.llm.stream(messages, params)
    try:
        for piece in pieces:
            raw += piece
            emit(piece)
            complete = [s for s in split_sentences(raw + " ") if s[-1:] in ".!?"]
            if len(complete) >= MAX_SENTENCES:
                break
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()  # stops generation in backends that can
    return raw


def respond(state: AttuneState, runtime: Runtime[AttuneContext]) -> AttuneState:
    """Write the reply; with several candidates configured, keep the best-fitting one.

    With one candidate the reply streams as ``reply.delta`` events token by token; with several
    it is chosen after generation and sent as one delta. ``reply`` in the state (and the
    ``reply.done`` event) is the authoritative, cleaned text.
    """
    ctx = runtime.context
    start = time.perf_counter()
    decision = state.get("strategy")
    strategy = decision.strategy if decision else Strategy.OTHERS
    user_text = state.get("user_text") or ""
    history = state.get("history", [])
    messages = build_reply_messages(
        strategy, state.get("appraisal"), history, user_text, ctx.settings.chat.history_messages
    )
    n = ctx.settings.llm.candidates

    def emit(text: str) -> None:
        runtime.stream_writer({"type": "reply.delta", "text": text})

    base = GenerationParams(
        max_tokens=ctx.settings.llm.max_tokens,
        temperature=ctx.settings.llm.temperature,
        stop=("\nUser:", "\nuser:", "<|im_end|>"),
    )
    if n == 1:
        params = base.model_copy(update={"seed": ctx.settings.seed})
        reply = clean_reply(_stream_one(ctx, messages, params, emit), MAX_SENTENCES)
    else:
        candidates = []
        for i in range(n):
            params = base.model_copy(update={"seed": ctx.settings.seed + i})
            candidates.append(clean_reply(ctx.llm.generate(messages, params), MAX_SENTENCES))
        nonempty = [c for c in candidates if c] or [FALLBACK_REPLY]
        reply = ReplyScorer(ctx.embedder).best(nonempty, strategy, user_text).text
        emit(reply)
    reply = reply or FALLBACK_REPLY
    turn_id = state.get("turn_id")
    return {
        "reply": reply,
        "history": [
            ChatMessage(role="user", content=user_text, turn_id=turn_id),
            ChatMessage(role="assistant", content=reply, strategy=strategy, turn_id=turn_id),
        ],
        "timings_ms": {"respond": (time.perf_counter() - start) * 1000},
    }
