"""The server's load benchmark: N concurrent sessions doing scripted text turns on loopback.

A real :class:`server.app.AttuneServer` (text stack; sessions in a throwaway SQLite file) runs
in a background thread with its own event loop; N clients in this thread each run turns one
after another for ``seconds`` (turns in flight at the deadline are finished and counted).
Reported per N: turns/s, client-side latency from sending the message to ``reply.done``
(p50/p95) and to the first reply text, and errors (anything but a clean turn; must be 0).

With ``fake_llm`` the LLM answers a fixed reply instantly (the rest of the stack is real):
what remains is the server's own overhead plus perception and planning. Attune runs one turn
at a time per process, so with the real LLM latency grows with N while turns/s stays flat.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from attune.bench.text import MESSAGES, percentile
from attune.settings import AttuneSettings
from attune.types import ChatMessage, GenerationParams
from modalities.llm.base import LLM

_CANNED_REPLY = "That sounds really hard. I'm here with you; tell me more about it."


class CannedLLM(LLM):
    """An LLM that streams one fixed reply word by word, instantly (the benchmark's fake)."""

    name = "canned"

    @classmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> CannedLLM:
        return cls()

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Iterator[str]:
        for word in _CANNED_REPLY.split(" "):
            yield word + " "


@contextlib.contextmanager
def bench_server(
    settings: AttuneSettings,
    llm: LLM | None,
    modalities: tuple[str, ...] | None = None,
    prefix: str = "attune-bench-",
) -> Iterator[tuple[str, Any, Path]]:
    """A real :class:`server.app.AttuneServer` on a free loopback port, sessions in a throwaway
    SQLite file, served from a background thread: ``(url, bot, folder of the file)``; the load
    time is ``bot.load_s``."""
    from agent.core import Attune
    from server.app import AttuneServer, serve
    from server.store import open_store

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        checkpointer, owners = open_store(None, Path(tmp) / "sessions.sqlite")
        bot = Attune(settings, checkpointer=checkpointer, llm=llm)
        started = time.perf_counter()
        bot.load(**({"modalities": modalities} if modalities is not None else {}))
        bot.load_s = time.perf_counter() - started  # type: ignore[attr-defined]
        server = AttuneServer(bot, owners)
        ready = threading.Event()
        port: list[int] = []
        loop = asyncio.new_event_loop()

        def on_ready(bound: int) -> None:
            port.append(bound)
            ready.set()

        task = loop.create_task(serve(server, "127.0.0.1", 0, on_ready))
        thread = threading.Thread(
            target=lambda: _run_until_cancelled(loop, task), name="bench-server", daemon=True
        )
        thread.start()
        try:
            if not ready.wait(60):
                raise RuntimeError("the benchmark server did not start")
            yield f"ws://127.0.0.1:{port[0]}/ws", bot, Path(tmp)
        finally:
            loop.call_soon_threadsafe(task.cancel)
            thread.join(30)
            bot.close()
            owners.close()


def run_server_bench(
    settings: AttuneSettings,
    sessions: Sequence[int] = (10, 50),
    seconds: float = 20.0,
    fake_llm: bool = False,
) -> dict[str, Any]:
    """Run the load benchmark for each number of concurrent ``sessions``; the figures."""
    with bench_server(settings, CannedLLM() if fake_llm else None) as (url, bot, _):
        asyncio.run(_load(url, 1, 0.0))  # warm-up turn
        runs = {str(n): asyncio.run(_load(url, n, seconds)) for n in sessions}
    return {
        "llm": "canned (fake)" if fake_llm else settings.backends.llm,
        "reply_candidates": settings.llm.candidates,
        "seconds": seconds,
        "load_s": round(bot.load_s, 2),
        "sessions": runs,
    }


def _run_until_cancelled(loop: asyncio.AbstractEventLoop, task: asyncio.Task[None]) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(task)
    except asyncio.CancelledError:
        pass
    finally:
        loop.close()


async def _load(url: str, clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` sessions doing turns until ``seconds`` have passed (at least one each)."""
    latencies: list[float] = []
    first_text: list[float] = []
    engine: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()

    async def session(index: int) -> None:
        from server.client import AttuneClient

        try:
            async with AttuneClient(url) as client:
                turn = 0
                while turn == 0 or time.perf_counter() < deadline:
                    sent = time.perf_counter()
                    outcome = await client.turn(
                        MESSAGES[(index + turn) % len(MESSAGES)], timeout=600
                    )
                    if outcome.result is None:
                        errors.append(str((outcome.error or {}).get("code", "no reply")))
                    else:
                        latencies.append(time.perf_counter() - sent)
                        engine.append(outcome.result["timings_ms"]["total"] / 1000)
                        delta = next((e for e in outcome.events if e.type == "reply.delta"), None)
                        if delta is not None:
                            first_text.append(delta.received_at - sent)
                    turn += 1
        except Exception as exc:  # counted, not raised: the benchmark reports errors
            errors.append(type(exc).__name__)

    await asyncio.gather(*(session(i) for i in range(clients)))
    elapsed = time.perf_counter() - started

    def ms(values: list[float], q: float) -> float | None:
        return round(percentile(values, q) * 1000, 1) if values else None

    return {
        "turns": len(latencies),
        "elapsed_s": round(elapsed, 2),
        "turns_per_s": round(len(latencies) / elapsed, 2),
        "latency_ms": {"p50": ms(latencies, 0.5), "p95": ms(latencies, 0.95)},
        "first_text_ms": {"p50": ms(first_text, 0.5), "p95": ms(first_text, 0.95)},
        # turns run one at a time: the server's time per turn beyond the engine's own
        "engine_ms_mean": round(statistics.fmean(engine) * 1000, 1) if engine else None,
        "overhead_ms_per_turn": (
            round((elapsed / len(engine) - statistics.fmean(engine)) * 1000, 1) if engine else None
        ),
        "errors": len(errors),
        "error_codes": sorted(set(errors)),
    }


# --- the soak: memory and storage over many turns ---------------------------------------------


def _rss_mb() -> float:
    """The process's resident memory now (Linux ``/proc``; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _png16(size: int) -> bytes:
    """A black 16-bit grayscale PNG of ``size`` x ``size`` (about 115 KB for 7700: it
    compresses to almost nothing and decodes to 118 MB)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("I;16", (size, size)).save(buffer, format="PNG")
    return buffer.getvalue()


#: Turns before the soak's starting RSS is read.
WARM_UP_TURNS = 100


def run_soak_bench(
    settings: AttuneSettings,
    sessions: int = 20,
    turns: int = 500,
    image_clients: int = 3,
    warm_up: int = WARM_UP_TURNS,
) -> dict[str, Any]:
    """``turns`` text turns over ``sessions`` concurrent sessions on a real server (loopback,
    the canned LLM, the rest of the stack real): RSS after ``warm_up`` turns and at the end,
    errors,
    bytes stored and checkpoints per turn. Then ``image_clients`` clients each send a 16-bit
    7700x7700 PNG at once: the peak RSS meanwhile (sampled every 5 ms) and the answers."""
    import gc
    import sqlite3

    def stored(folder: Path) -> int:
        return sum(f.stat().st_size for f in folder.iterdir())

    with bench_server(settings, CannedLLM(), ("face",), "attune-soak-") as (url, _, tmp):
        asyncio.run(_turns(url, sessions, sessions))  # every code path once
        gc.collect()
        rss_first = _rss_mb()
        # the allocator's arenas and the caches fill over the first ~100 turns (measured:
        # +45 MB, then flat within +-7 MB over 1,000 more), so the soak starts after them
        asyncio.run(_turns(url, sessions, max(0, warm_up - sessions)))
        gc.collect()
        rss_start = _rss_mb()
        stored_start = stored(tmp)
        started = time.perf_counter()
        run = asyncio.run(_turns(url, sessions, turns))
        elapsed = time.perf_counter() - started
        gc.collect()
        rss_end = _rss_mb()
        with sqlite3.connect(tmp / "sessions.sqlite") as conn:
            (checkpoints,) = conn.execute("SELECT count(*) FROM checkpoints").fetchone()
        stored_end = stored(tmp)
        images = _image_probe(url, image_clients)
    done = run["turns"] + max(warm_up, sessions)
    return {
        "llm": "canned (fake)",
        "sessions": sessions,
        "turns": run["turns"],
        "errors": run["errors"],
        "error_codes": run["error_codes"],
        "elapsed_s": round(elapsed, 1),
        "warm_up_turns": max(warm_up, sessions),
        "rss_mb": {
            "after_first_turns": round(rss_first, 1),
            "start": round(rss_start, 1),
            "end": round(rss_end, 1),
            "growth": round(rss_end - rss_start, 1),
        },
        "stored_bytes_per_turn": round((stored_end - stored_start) / max(1, run["turns"])),
        "checkpoints_per_turn": round(checkpoints / max(1, done), 2),
        "images": images,
    }


async def _turns(url: str, sessions: int, turns: int) -> dict[str, Any]:
    """``turns`` text turns shared out over ``sessions`` concurrent sessions."""
    from server.client import AttuneClient

    errors: list[str] = []
    done = [0]

    async def session(index: int, count: int) -> None:
        try:
            async with AttuneClient(url) as client:
                for turn in range(count):
                    outcome = await client.turn(
                        MESSAGES[(index + turn) % len(MESSAGES)], timeout=120
                    )
                    if outcome.result is None:
                        errors.append(str((outcome.error or {}).get("code", "no reply")))
                    else:
                        done[0] += 1
        except Exception as exc:  # counted: the benchmark reports errors
            errors.append(type(exc).__name__)

    share = [turns // sessions + (1 if i < turns % sessions else 0) for i in range(sessions)]
    await asyncio.gather(*(session(i, n) for i, n in enumerate(share)))
    return {"turns": done[0], "errors": len(errors), "error_codes": sorted(set(errors))}


def _image_probe(url: str, clients: int) -> dict[str, Any]:
    """``clients`` clients send the 16-bit PNG at once; the answers and the peak RSS."""
    import base64
    import json

    from server.client import AttuneClient

    frame = json.dumps({"type": "user.image", "data": base64.b64encode(_png16(7700)).decode()})
    peak = [_rss_mb()]
    before = peak[0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_mb())
            time.sleep(0.005)

    async def one() -> str:
        async with AttuneClient(url) as client:
            await client.ws.send(frame)
            while (event := await client.receive(timeout=60)).type != "error":
                pass
            return str(event.message["code"])

    async def all_clients() -> list[str]:
        return await asyncio.gather(*(one() for _ in range(clients)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        codes = asyncio.run(all_clients())
    finally:
        stop.set()
        sampler.join()
    return {
        "clients": clients,
        "png_bytes": len(_png16(7700)),
        "answers": codes,
        "rss_before_mb": round(before, 1),
        "rss_peak_mb": round(peak[0], 1),
    }
