"""The answer cache survives reopening; the rate limiter spaces requests."""

from __future__ import annotations

import threading

import pytest

from attune.types import ChatMessage, GenerationParams
from strategies.cache import AnswerCache, CachedAsker, RateLimiter, prompt_hash
from tests.fakes import FakeLLM

MESSAGES = [ChatMessage(role="user", content="Which strategy?")]
PARAMS = GenerationParams(max_tokens=24, temperature=0.0, seed=0)


def test_prompt_hash_covers_messages_and_parameters():
    base = prompt_hash(MESSAGES, PARAMS)
    assert base == prompt_hash(
        list(MESSAGES), GenerationParams(max_tokens=24, temperature=0.0, seed=0)
    )
    assert base != prompt_hash([ChatMessage(role="user", content="Which one?")], PARAMS)
    assert base != prompt_hash(MESSAGES, PARAMS.model_copy(update={"max_tokens": 25}))


def test_answers_persist_across_processes_worth_of_reopening(tmp_path):
    path = tmp_path / "cache" / "study.sqlite"
    with AnswerCache(path) as cache:
        cache.put("m", "direct", "valid.jsonl:0:1", "h1", "Question", 1.5)
    with AnswerCache(path) as cache:
        assert cache.get("m", "direct", "valid.jsonl:0:1", "h1") == "Question"
        assert cache.get("m", "cot", "valid.jsonl:0:1", "h1") is None
        assert cache.get("other", "direct", "valid.jsonl:0:1", "h1") is None
        assert cache.count() == 1 and cache.count("m", "direct") == 1


def test_asker_asks_once_then_reads_the_cache(tmp_path):
    llm = FakeLLM(["Question"])
    with AnswerCache(tmp_path / "c.sqlite") as cache:
        asker = CachedAsker(llm, "m", cache)
        for _ in range(3):
            assert asker.generate(MESSAGES, PARAMS, method="direct", sample="s:0:1") == "Question"
        assert (asker.asked, asker.cached, len(llm.calls)) == (1, 2, 1)
        # concurrent askers of distinct samples all land
        threads = [
            threading.Thread(
                target=asker.generate,
                args=(MESSAGES, PARAMS),
                kwargs={"method": "direct", "sample": f"s:1:{i}"},
            )
            for i in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert cache.count("m") == 9


def test_rate_limiter_spaces_requests_evenly():
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))

    limiter = RateLimiter(2.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        limiter.acquire()
    assert slept == [0.5, 1.0]  # the first goes at once, then 0.5 s apart
    now[0] = 200.0  # idle for a long time: no burst credit is saved up beyond the next slot
    limiter.acquire()
    assert slept == [0.5, 1.0]
    RateLimiter(None).acquire()
    with pytest.raises(ValueError):
        RateLimiter(0)
