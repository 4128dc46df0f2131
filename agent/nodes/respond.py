"""The reply node: generate a short reply for the strategy (speaking it is the speech
stage's, :mod:`agent.speech`, from this node's events).

Two prompts: the reply-tuned model (the bundled model with its LoRA adapter) gets the dialogue
and the strategy as a control line (:mod:`agent.tuning.format`); a general instruction model
gets the strategy's instruction, two worked examples and the appraisal
(:func:`build_reply_messages`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from langgraph.runtime import Runtime

from agent.appraisal import mixed_signals
from agent.context import AttuneContext
from agent.nodes.plan import is_phatic
from agent.nodes.speak import low_latency_voice, speech_style_event
from agent.openers import opener_for
from agent.prompting import render, strategy_guides
from agent.reply import ReplyScorer, clean_reply, sentence_key, split_sentences
from agent.safety.replies import SAFE_FALLBACK_REPLY, check_reply
from agent.state import AttuneState
from agent.tuning.format import tuned_messages
from attune.taxonomy import Strategy
from attune.types import (
    Appraisal,
    ChatMessage,
    GenerationParams,
    ReplyCheck,
    ReplyDeltaEvent,
    ReplySentenceEvent,
)

MAX_SENTENCES = 3
#: A reply shorter than this that is not a question ("I'm sorry to hear that.") is continued
#: by one more sentence of the same model, unless the person only made small talk.
MIN_REPLY_WORDS = 8
#: Tokens the continuation may take to finish its sentence.
CONTINUE_TOKENS = 40
#: Draws of the continuation when it repeats what Attune said in its recent replies.
CONTINUE_ATTEMPTS = 2
_SENTENCE_DONE = re.compile(r"[.!?]+[\"')\]]*(?=\s)")
#: Said when every candidate came out empty (a small model can do that on odd input).
FALLBACK_REPLY = "I'm here with you. Would you like to tell me a little more about it?"


def build_reply_messages(
    strategy: Strategy,
    appraisal: Appraisal | None,
    history: list[ChatMessage],
    user_text: str,
    history_limit: int,
    mixed: str | None = None,
) -> list[ChatMessage]:
    """System prompt, the strategy's worked examples, recent history, then the message.

    ``mixed`` (from :func:`agent.appraisal.mixed_signals`) asks the reply to reflect the
    disagreement between the user's words and how they seem.
    """
    guide = strategy_guides()[strategy]
    system = render(
        "respond_system.j2", appraisal=appraisal, instruction=guide["instruction"], mixed=mixed
    )
    messages = [ChatMessage(role="system", content=system)]
    for example in guide["examples"][:2]:
        messages.append(ChatMessage(role="user", content=example["user"]))
        messages.append(ChatMessage(role="assistant", content=example["reply"]))
    recent = history[-history_limit:] if history_limit else []
    messages.extend(ChatMessage(role=m.role, content=m.content) for m in recent)
    messages.append(ChatMessage(role="user", content=user_text))
    return messages


def reply_prompt(ctx: AttuneContext) -> str:
    """``tuned`` or ``instruct``: the setting, or with ``auto`` what the LLM backend says."""
    chosen = ctx.settings.llm.reply_prompt
    return getattr(ctx.llm, "reply_prompt", "instruct") if chosen == "auto" else chosen


def with_check_in(reply: str, check_in: str, spoken: str = "") -> str:
    """``reply`` ended with the concern tier's check-in question. The reply's own closing
    questions are dropped first (two questions at once ask the person to choose), keeping its
    first sentence and whatever was already spoken."""
    sentences = split_sentences(reply)
    while len(sentences) > 1 and sentences[-1].endswith("?"):
        kept = " ".join(sentences[:-1])
        if len(kept) < len(spoken.strip()):
            break
        sentences, reply = sentences[:-1], kept
    return f"{reply.rstrip()} {check_in}".strip()


def finished_sentences(raw: str) -> list[str]:
    """The sentences of a reply being streamed that can no longer change: those of the cleaned
    text so far, except the last one while nothing follows it yet."""
    sentences = split_sentences(clean_reply(raw, MAX_SENTENCES))
    if sentences and " ".join(raw.split()).endswith(sentences[-1]):
        sentences = sentences[:-1]  # it may still grow ("3." -> "3.5")
    return sentences


def _stream_one(
    ctx: AttuneContext,
    messages: list[ChatMessage],
    params: GenerationParams,
    emit: Callable[[str], None],
    on_text: Callable[[str], None] | None = None,
    prefix: str = "",
) -> tuple[str, bool]:
    """Stream one reply, forwarding text as it comes and stopping after the last sentence.

    The text so far passes the output guard before each piece is forwarded; once it fails,
    nothing more is forwarded and generation stops. ``on_text`` gets the text so far after each
    forwarded piece (finished sentences are announced from it, for the speech stage). Returns
    the raw text and whether it failed. A ``prefix`` (the strategy's opener) begins the reply:
    it is forwarded first and the model continues it.
    """
    raw = prefix
    system = messages[0].content if messages and messages[0].role == "system" else None
    if prefix:
        emit(prefix)
        messages = [*messages, ChatMessage(role="assistant", content=prefix)]
    pieces = ctx.llm.stream(messages, params)
    try:
        for piece in pieces:
            if ctx.cancelled:  # barge-in: keep what was generated so far
                break
            if raw == prefix and prefix and piece[:1].isalnum():
                piece = f" {piece}"  # the continuation's first word, after the opener
            raw += piece
            if check_reply(raw, system) is not None:
                return raw, True
            emit(piece)
            if on_text is not None:
                on_text(raw)
            complete = [s for s in split_sentences(raw + " ") if s[-1:] in ".!?"]
            if len(complete) >= MAX_SENTENCES:
                break
            if len(complete) >= 2 and len(split_sentences(clean_reply(raw, MAX_SENTENCES))) < len(
                complete
            ):
                break  # a sentence said again: a loop (cleaning drops the repeat)
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()  # stops generation in backends that can
    return raw, False


def needs_more(reply: str, strategy: Strategy, user_text: str) -> bool:
    """Whether a reply is too thin to stand alone: fewer than :data:`MIN_REPLY_WORDS` words and
    not a question, to someone who said more than small talk. The small tuned model ends many
    replies after "I'm sorry to hear that."; ESConv's supporters go on."""
    words = re.findall(r"[A-Za-z0-9']+", reply)
    return (
        0 < len(words) < MIN_REPLY_WORDS
        and not reply.rstrip().endswith("?")
        and strategy is not Strategy.OTHERS
        and not is_phatic(user_text)
    )


def _continue_one(
    ctx: AttuneContext,
    messages: list[ChatMessage],
    reply: str,
    params: GenerationParams,
    said_before: frozenset[str] = frozenset(),
) -> str:
    """One more sentence after ``reply`` from the same model (the conversation ends with the
    reply so far, so the model continues it); ``""`` when none comes or it fails the guard.
    A sentence Attune already said (``said_before``: :func:`sentence_key` of its recent
    replies) is drawn again with the next seed, once."""
    for attempt in range(CONTINUE_ATTEMPTS):
        seed = params.seed + attempt if params.seed is not None else None
        sentence = _draw_sentence(ctx, messages, reply, params.model_copy(update={"seed": seed}))
        if sentence and sentence_key(sentence) not in said_before:
            return sentence
    return ""


def _draw_sentence(
    ctx: AttuneContext, messages: list[ChatMessage], reply: str, params: GenerationParams
) -> str:
    system = messages[0].content if messages and messages[0].role == "system" else None
    request = [*messages, ChatMessage(role="assistant", content=reply)]
    more = params.model_copy(update={"ignore_eos": True, "max_tokens": CONTINUE_TOKENS})
    text = ""
    pieces = ctx.llm.stream(request, more)
    try:
        for piece in pieces:
            if ctx.cancelled:
                return ""
            text += piece
            done = _SENTENCE_DONE.search(text)
            if done is not None:
                text = text[: done.end()]
                break
        else:
            text = text if re.search(r"[.!?][\"')\]]*$", text.strip()) else ""
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
    sentence = " ".join(text.split())
    words = sentence_key(sentence).split()
    if len(words) < 3:
        return ""
    if any(sentence_key(s).split()[:2] == words[:2] for s in split_sentences(reply)):
        return ""  # a stutter: "I think you might be feeling down. I think you are."
    longer = clean_reply(f"{reply} {sentence}", MAX_SENTENCES)
    if longer == reply or check_reply(longer, system) is not None:
        return ""  # a repeat (cleaning dropped it) or a sentence the guard refuses
    return longer[len(reply) :].strip()


def respond(state: AttuneState, runtime: Runtime[AttuneContext]) -> AttuneState:
    """Write the reply; with several candidates configured, keep the best-fitting one (for the
    tuned model, fit is the reply-strategy classifier's probability of the strategy).

    With one candidate the reply streams as ``reply.delta`` events token by token; with several
    it is chosen after generation and sent as one delta. ``reply`` in the state (and the
    ``reply.done`` event) is the authoritative, cleaned text.

    When the reply is to be spoken, ``speech.style`` comes first. In a low-latency voice turn
    (:func:`agent.nodes.speak.low_latency_voice`) each sentence that can no longer change is
    announced as it streams (``reply.sentence``): the speech stage (:mod:`agent.speech`) speaks
    it while the rest is being written.

    On the concern tier the reply ends with the safety check-in question
    (:func:`with_check_in`).

    Output guard: a reply that is harmful, dismissive or leaks the system prompt
    (:func:`agent.safety.replies.check_reply`) is replaced by the safe fallback; candidates that
    fail are dropped before ranking; streaming stops forwarding text as soon as the draft fails.
    ``reply_check`` in the state records what happened.
    """
    ctx = runtime.context
    start = time.perf_counter()
    if ctx.cancelled:  # interrupted before the reply began: record only the user's message
        user = ChatMessage(role="user", content=state.get("user_text") or "")
        return {
            "reply": "",
            "history": [user.model_copy(update={"turn_id": state.get("turn_id")})],
            "timings_ms": {"respond": 0.0},
        }
    decision = state.get("strategy")
    strategy = decision.strategy if decision else Strategy.OTHERS
    user_text = state.get("user_text") or ""
    history = state.get("history", [])
    prompt = reply_prompt(ctx)
    if prompt == "tuned":
        messages = tuned_messages(
            history[-ctx.settings.chat.history_messages :], user_text, strategy
        )
    else:
        messages = build_reply_messages(
            strategy,
            state.get("appraisal"),
            history,
            user_text,
            ctx.settings.chat.history_messages,
            mixed=mixed_signals(state.get("affect")),
        )
    fast = low_latency_voice(state, ctx)
    n = 1 if fast else ctx.settings.llm.candidates
    style = speech_style_event(state, ctx)
    if style is not None:
        runtime.stream_writer(style)
    #: the sentences announced as final (``reply.sentence``, in a low-latency voice turn),
    #: which the speech stage speaks at once
    announced: list[str] = []

    def emit(text: str) -> None:
        runtime.stream_writer(ReplyDeltaEvent(text=text))

    def announce(raw_so_far: str) -> None:
        """``reply.sentence`` for each sentence of the text so far that is now final."""
        for sentence in finished_sentences(raw_so_far)[len(announced) :]:
            if ctx.cancelled or sentence[-1:] not in ".!?":
                return
            announced.append(sentence)
            runtime.stream_writer(ReplySentenceEvent(text=sentence))

    base = GenerationParams(
        max_tokens=ctx.settings.llm.max_tokens,
        temperature=ctx.settings.llm.temperature,
        repeat_penalty=ctx.settings.llm.repeat_penalty,
        stop=("\nUser:", "\nuser:", "<|im_end|>"),
    )
    system = messages[0].content
    rejected = 0
    if n == 1:
        params = base.model_copy(update={"seed": ctx.settings.seed})
        recent = [m.content for m in history[-4:] if m.role == "assistant"]
        opener = ""
        if ctx.settings.llm.openers and prompt == "tuned" and ctx.llm.capabilities.continues:
            opener = opener_for(strategy, user_text, recent)
        raw, failed = _stream_one(
            ctx, messages, params, emit, announce if fast else None, prefix=opener
        )
        reply = "" if failed else clean_reply(raw, MAX_SENTENCES)
        problem = check_reply(raw, system) if failed else None
        if (
            reply
            and not ctx.cancelled
            and ctx.llm.capabilities.continues
            and needs_more(reply, strategy, user_text)
        ):
            said = frozenset(sentence_key(x) for m in recent for x in split_sentences(m))
            sentence = _continue_one(ctx, messages, reply, params, said)
            if sentence:
                reply = f"{reply} {sentence}"
                emit(f" {sentence}")
                if fast:
                    announce(f"{raw.rstrip()} {sentence} ")
    else:
        candidates = []
        for i in range(n):
            if ctx.cancelled and candidates:  # barge-in: rank what there is
                break
            params = base.model_copy(update={"seed": ctx.settings.seed + i})
            candidates.append(clean_reply(ctx.llm.generate(messages, params), MAX_SENTENCES))
        nonempty = [c for c in candidates if c]
        safe = [c for c in nonempty if check_reply(c, system) is None]
        rejected = len(nonempty) - len(safe)
        problem = check_reply(nonempty[0], system) if nonempty and not safe else None
        if safe:
            scorer = ReplyScorer(ctx.embedder, adherence=prompt == "tuned")
            reply = scorer.best(safe, strategy, user_text).text
        else:
            reply = SAFE_FALLBACK_REPLY if problem else FALLBACK_REPLY
    if problem is None and reply:
        problem = check_reply(reply, system)
    if problem is not None:
        reply = SAFE_FALLBACK_REPLY
    safety = state.get("safety")
    if safety is not None and safety.tier == "concern" and safety.check_in and not ctx.cancelled:
        # after the guard: the check-in is the project's own words, never replaced
        before = reply or FALLBACK_REPLY
        reply = with_check_in(before, safety.check_in, " ".join(announced))
        if n == 1:
            emit(reply[len(before) :] if reply.startswith(before) else f" {safety.check_in}")
    if n != 1:
        emit(reply)
    turn_id = state.get("turn_id")
    history_update = [ChatMessage(role="user", content=user_text, turn_id=turn_id)]
    if ctx.cancelled and not reply:
        # interrupted before anything was said: only the user's message is recorded
        reply = ""
    else:
        reply = reply or FALLBACK_REPLY
        history_update.append(
            ChatMessage(
                role="assistant",
                content=reply,
                strategy=strategy,
                turn_id=turn_id,
                interrupted=ctx.cancelled,
            )
        )
    return {
        "reply": reply,
        "reply_check": ReplyCheck(
            replaced=problem is not None, problem=problem, rejected_candidates=rejected
        ),
        "history": history_update,
        "timings_ms": {"respond": (time.perf_counter() - start) * 1000},
    }
