"""A persistent cache of LLM answers, and a request-rate limiter, for long planner studies.

:class:`AnswerCache` keeps every answer in one SQLite file, keyed by ``(model, method, sample,
prompt)``: the model's identity (file or endpoint and model name), the prompt template that
asked (``direct``, ``cot``...), the evaluation sample (``file:dialogue:turn``) and a SHA-256 of
the exact messages and decoding parameters sent. Answers are written as they arrive (one
transaction each), so a run that is interrupted, even killed, resumes where it stopped, and a
rerun that adds one method asks only for that method. Decoding is greedy, so a cached answer is
the answer the model would give again.

The file holds what the model answered about dialogues of the data set: keep it where you keep
the data (the default is under ``paths.state_dir``).

:class:`RateLimiter` spaces requests to a remote server (``rate`` per second, shared by every
thread of a run); cache hits do not count.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from attune.types import ChatMessage, GenerationParams

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    model TEXT NOT NULL,
    method TEXT NOT NULL,
    sample TEXT NOT NULL,
    prompt TEXT NOT NULL,
    answer TEXT NOT NULL,
    seconds REAL NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (model, method, sample, prompt)
)
"""


def prompt_hash(messages: Sequence[ChatMessage], params: GenerationParams) -> str:
    """SHA-256 (hex) of the messages and the decoding parameters, as sent."""
    payload = {
        "messages": [{"role": m.role, "content": m.content} for m in messages],
        "params": params.model_dump(mode="json"),
    }
    raw = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(raw).hexdigest()


class AnswerCache:
    """LLM answers in a SQLite file (see the module docstring). Thread-safe."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._lock = threading.Lock()

    def get(self, model: str, method: str, sample: str, prompt: str) -> str | None:
        """The cached answer, or ``None``."""
        with self._lock:
            row = self._db.execute(
                "SELECT answer FROM answers WHERE model=? AND method=? AND sample=? AND prompt=?",
                (model, method, sample, prompt),
            ).fetchone()
        return None if row is None else str(row[0])

    def put(
        self, model: str, method: str, sample: str, prompt: str, answer: str, seconds: float
    ) -> None:
        """Store an answer now (committed before this returns)."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)",
                (model, method, sample, prompt, answer, float(seconds), time.time()),
            )

    def count(self, model: str | None = None, method: str | None = None) -> int:
        """How many answers are stored (for one model and/or method if given)."""
        query = "SELECT COUNT(*) FROM answers WHERE 1=1"
        args: list[str] = []
        if model is not None:
            query, args = query + " AND model=?", [*args, model]
        if method is not None:
            query, args = query + " AND method=?", [*args, method]
        with self._lock:
            return int(self._db.execute(query, args).fetchone()[0])

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> AnswerCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class RateLimiter:
    """At most ``rate`` acquisitions per second across threads (``None``: unlimited).

    Requests are spaced evenly (``1 / rate`` apart); ``clock`` and ``sleep`` can be replaced
    in tests.
    """

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = time.sleep,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive (requests per second)")
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Wait for this request's turn."""
        if self.rate is None:
            return
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + 1.0 / self.rate
        if start > now:
            self._sleep(start - now)


class CachedAsker:
    """Asks an LLM through an :class:`AnswerCache` and a :class:`RateLimiter`, counting how
    many answers came from the cache and how many were asked."""

    def __init__(
        self,
        llm: Any,
        model_id: str,
        cache: AnswerCache | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.llm = llm
        self.model_id = model_id
        self.cache = cache
        self.limiter = limiter or RateLimiter(None)
        self.asked = 0
        self.cached = 0
        self._lock = threading.Lock()

    def generate(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        method: str,
        sample: str | None,
    ) -> str:
        """The answer to ``messages``: from the cache when ``sample`` is known and it is there,
        else from the LLM (then stored)."""
        key = prompt_hash(messages, params) if self.cache is not None and sample else None
        if key is not None and self.cache is not None and sample is not None:
            hit = self.cache.get(self.model_id, method, sample, key)
            if hit is not None:
                with self._lock:
                    self.cached += 1
                return hit
        self.limiter.acquire()
        started = time.perf_counter()
        answer = str(self.llm.generate(messages, params))
        seconds = time.perf_counter() - started
        with self._lock:
            self.asked += 1
        if key is not None and self.cache is not None and sample is not None:
            self.cache.put(self.model_id, method, sample, key, answer, seconds)
        return answer
