"""The ``llm`` role's conformance suite: the same behaviour from every LLM backend (the bundled
SmolLM2-135M-Instruct for the real ones) and from the fake, the backends of
``tests/conformance/backends.py``.

A backend with a ``NAME_llm`` fixture in ``conftest.py`` gets it (``openai`` runs against a real
llama.cpp server in a child process); the others are built by their line in that table.
Greedy decoding (temperature 0) keeps the expectations deterministic.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from attune.types import ChatMessage, GenerationParams
from modalities.llm.base import LLM
from tests.conformance.backends import build, params

STORY = [ChatMessage(role="user", content="Tell me a long story about a brave dragon.")]
GREEDY = GenerationParams(max_tokens=16, temperature=0.0, seed=7)


@pytest.fixture(params=params("llm"))
def llm(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    name = request.param
    try:  # the real models load once per package, in conftest.py
        return request.getfixturevalue(f"{name.replace('-', '_')}_llm")
    except pytest.FixtureLookupError:
        return build("llm", name, tmp_path_factory)


def test_stream_yields_pieces_that_join_to_the_reply(llm: LLM) -> None:
    pieces = list(llm.stream(STORY, GREEDY))
    assert len(pieces) >= 2
    assert all(isinstance(p, str) and p for p in pieces)
    assert "".join(pieces) == llm.generate(STORY, GREEDY)
    assert "".join(pieces).strip()


def test_max_tokens_bounds_the_reply(llm: LLM) -> None:
    short = list(llm.stream(STORY, GREEDY.model_copy(update={"max_tokens": 8})))
    longer = llm.generate(STORY, GREEDY)
    # one piece is at most one token (llama.cpp: a token; transformers: a word)
    assert 1 <= len(short) <= 8
    assert len("".join(short)) < len(longer)
    assert longer.startswith("".join(short).rstrip())


def test_stop_string_ends_the_reply_before_it(llm: LLM) -> None:
    reference = llm.generate(STORY, GREEDY)
    words = reference.split()
    assert len(words) >= 5, reference
    stop = words[3]
    cut = reference.find(stop)
    stopped = llm.generate(STORY, GREEDY.model_copy(update={"stop": ("@@never@@", stop)}))
    assert stop not in stopped
    assert stopped.rstrip() == reference[:cut].rstrip()


def test_seeded_calls_are_reproducible(llm: LLM) -> None:
    assert llm.capabilities.seeded
    greedy = GREEDY.model_copy(update={"max_tokens": 8})
    assert llm.generate(STORY, greedy) == llm.generate(STORY, greedy)
    sampled = GenerationParams(max_tokens=8, temperature=0.9, seed=1234)
    assert llm.generate(STORY, sampled) == llm.generate(STORY, sampled)


def test_abandoning_a_stream_leaves_the_backend_usable(llm: LLM) -> None:
    stream = llm.stream(STORY, GenerationParams(max_tokens=400, temperature=0.7))
    first = next(iter(stream))
    assert first
    started = time.perf_counter()
    stream.close()  # type: ignore[attr-defined]  # a generator
    assert time.perf_counter() - started < 15
    # an iterator dropped without close() must not break things either
    dropped = llm.stream(STORY, GenerationParams(max_tokens=400, temperature=0.7))
    next(iter(dropped))
    del dropped
    reply = llm.generate(STORY, GREEDY.model_copy(update={"max_tokens": 6}))
    assert reply.strip()
