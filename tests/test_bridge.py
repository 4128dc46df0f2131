"""The one producer -> consumer bridge (attune.bridge): order, errors, ends, timeouts."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from attune.bridge import AsyncBridge, Bridge, BridgeTimeout


def test_items_arrive_in_order_and_the_producer_end_ends_them() -> None:
    bridge: Bridge[int] = Bridge()

    def produce(out: Bridge[int]) -> None:
        for i in range(100):
            out.put(i)

    thread = bridge.start_thread(produce, name="test")
    assert list(bridge.items(timeout=5)) == list(range(100))
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_what_the_producer_raises_comes_after_its_items() -> None:
    bridge: Bridge[str] = Bridge()

    def produce(out: Bridge[str]) -> None:
        out.put("first")
        raise KeyError("broken")

    bridge.start_thread(produce, name="test")
    got = []
    with pytest.raises(KeyError, match="broken"):
        for item in bridge.items(timeout=5):
            got.append(item)
    assert got == ["first"]


def test_a_silent_producer_times_out() -> None:
    bridge: Bridge[int] = Bridge()
    release = threading.Event()
    bridge.start_thread(lambda out: release.wait(5), name="test")
    started = time.perf_counter()
    with pytest.raises(BridgeTimeout):
        next(iter(bridge.items(timeout=0.1)))
    assert time.perf_counter() - started < 2
    release.set()


def test_the_async_bridge_feeds_an_event_loop() -> None:
    async def main() -> tuple[list[int], str]:
        loop = asyncio.get_running_loop()
        ok: AsyncBridge[int] = AsyncBridge()
        await loop.run_in_executor(None, ok.run, lambda out: [out.put(i) for i in range(5)])
        got = [i async for i in ok.items()]
        failing: AsyncBridge[int] = AsyncBridge()

        def produce(out: AsyncBridge[int]) -> None:
            raise ValueError("no")

        await loop.run_in_executor(None, failing.run, produce)
        try:
            _ = [i async for i in failing.items()]
        except ValueError as exc:
            return got, str(exc)
        return got, ""

    assert asyncio.run(main()) == ([0, 1, 2, 3, 4], "no")
