"""``make bench``: latency, throughput and memory of the default text stack, written as JSON.

Targets live here, never in timed test assertions. Figures: text-turn latency (p50/p95 over the
turns, after one warm-up turn), LLM generation speed, embedder and text-emotion speed, the safety
detector's latency per message (one message at a time, with its context, as a turn calls it;
target p50 <= 30 ms on 2 cores), load time and peak resident memory of the process.
"""

from __future__ import annotations

import platform
import resource
import statistics
import time
from typing import Any

from agent.core import Attune
from attune.settings import AttuneSettings
from attune.types import ChatMessage, GenerationParams, TurnResult

#: Messages written by the project, cycled through a few sessions of five turns.
MESSAGES = (
    "My dog died yesterday and the house feels so empty.",
    "I keep worrying that I'll lose my job next month.",
    "My best friend didn't invite me to her wedding.",
    "I finally passed my driving test after three tries!",
    "I can't sleep, my thoughts just keep racing at night.",
    "My parents fight all the time and I don't know what to do.",
    "I feel like nobody at school really sees me.",
    "I moved to a new city and I don't know anyone here.",
    "I'm so angry at my brother for lying to me again.",
    "Thank you, talking about it actually helped a bit.",
)
#: Longer and riskier messages for the safety detector's latency (several sentences each).
SAFETY_MESSAGES = (
    "ok so work was awful again. my manager yelled at me in front of everyone and honestly i "
    "feel like such a burden to my family since the pay cut. anyway how are you",
    "I'm fine, really. It's just that I haven't slept since the funeral and I keep crying.",
    "My boss is going to kill me when he sees this report, it's three days late.",
    "yeah",
)


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (linear interpolation), shared by every benchmark."""
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_bench(settings: AttuneSettings, turns: int = 20) -> dict[str, Any]:
    """Run the benchmark with the configured backends; return the figures."""
    if turns < 1:
        raise ValueError("turns must be at least 1")
    started = time.perf_counter()
    bot = Attune(settings)
    bot.load()
    load_s = time.perf_counter() - started
    try:
        bot.turn("Hello, I had a long day.", "bench-warmup")
        latencies: list[float] = []
        first_text: list[float] = []
        stages: dict[str, list[float]] = {}
        for i in range(turns):
            session = f"bench-{i // 5}"
            t0 = time.perf_counter()
            first: float | None = None
            result = None
            for event in bot.stream_turn(MESSAGES[i % len(MESSAGES)], session):
                if first is None and event.type == "reply.delta" and event.data.get("text"):
                    first = (time.perf_counter() - t0) * 1000
                if event.type == "reply.done":
                    result = TurnResult.model_validate(event.data["result"])
            assert result is not None
            if first is not None:
                first_text.append(first)
            latencies.append(result.timings_ms["total"])
            for stage, ms in result.timings_ms.items():
                stages.setdefault(stage, []).append(ms)

        # LLM generation speed: fixed prompt, pieces streamed (one piece = one token here)
        llm = bot.context.llm
        prompt = [ChatMessage(role="user", content="Write a short, kind note to a friend.")]
        params = GenerationParams(max_tokens=128, temperature=0.7, seed=1)
        pieces, gen_s = 0, 0.0
        for run in range(3):
            t0 = time.perf_counter()
            n = sum(1 for _ in llm.stream(prompt, params.model_copy(update={"seed": run})))
            gen_s += time.perf_counter() - t0
            pieces += n

        sentences = [m for m in MESSAGES for _ in range(10)]
        t0 = time.perf_counter()
        bot.context.embedder.embed(sentences)
        embed_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for text in MESSAGES:
            bot.context.text_emotion.analyze(text)
        emotion_ms = (time.perf_counter() - t0) * 1000 / len(MESSAGES)

        detector = bot.context.crisis_detector
        context = [ChatMessage(role="assistant", content="That sounds hard. What happened?")]
        safety_ms: list[float] = []
        for text in [*MESSAGES, *SAFETY_MESSAGES] * 3:
            t0 = time.perf_counter()
            detector.assess(text, None, context)
            safety_ms.append((time.perf_counter() - t0) * 1000)
    finally:
        bot.close()

    return {
        "stack": settings.backends.model_dump(),
        "device": settings.resolved_device(),
        "machine": {"cpus": _cpu_count(), "python": platform.python_version()},
        "turns": turns,
        "reply_candidates": settings.llm.candidates,
        "load_s": round(load_s, 2),
        "turn_latency_ms": {
            "p50": round(percentile(latencies, 0.5), 1),
            "p95": round(percentile(latencies, 0.95), 1),
            "mean": round(statistics.fmean(latencies), 1),
            "max": round(max(latencies), 1),
            "target_p50": 2500.0,
        },
        "first_text_ms": {
            "p50": round(percentile(first_text, 0.5), 1) if first_text else None,
            "p95": round(percentile(first_text, 0.95), 1) if first_text else None,
            "target_p50": 1000.0,
        },
        "reply_adapter": getattr(getattr(bot.context.llm, "adapter", None), "name", None),
        "stage_ms_p50": {k: round(percentile(v, 0.5), 1) for k, v in sorted(stages.items())},
        "llm_tokens_per_s": round(pieces / gen_s, 1) if gen_s else None,
        "embedder_sentences_per_s": round(len(sentences) / embed_s, 1),
        "text_emotion_ms_per_text": round(emotion_ms, 2),
        "safety_ms_per_message": {
            "p50": round(percentile(safety_ms, 0.5), 2),
            "p95": round(percentile(safety_ms, 0.95), 2),
            "target_p50": 30.0,
        },
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
