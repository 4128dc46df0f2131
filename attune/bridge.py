"""The one bridge from a blocking producer to its consumer, for the whole project.

A graph run, an LLM generation or a turn produces items on a worker thread; the consumer
takes them in order, in its own thread (:class:`Bridge`) or on an event loop
(:class:`AsyncBridge`). What the producer raises is re-raised in the consumer, after the items
it produced before; the end of the producer ends the consumer's iteration.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_ITEM, _ERROR, _END = 0, 1, 2


class BridgeTimeout(TimeoutError):
    """The producer handed nothing over for the consumer's ``timeout``."""


class Bridge(Generic[T]):
    """Producer -> consumer across threads. The producer calls :meth:`put` (from any thread);
    :meth:`run` wraps a producer function so that its end and its exception reach the
    consumer; :meth:`items` is the consumer's side."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[int, Any]] = queue.SimpleQueue()

    def put(self, item: T) -> None:
        """Hand one item over (producer side)."""
        self._queue.put((_ITEM, item))

    def run(self, produce: Callable[[Bridge[T]], None]) -> None:
        """Call ``produce(self)``; then end the consumer's iteration, or raise what it raised
        there. Never raises itself (it runs as a thread's target)."""
        try:
            produce(self)
        except BaseException as exc:  # re-raised in the consumer
            self._queue.put((_ERROR, exc))
        else:
            self._queue.put((_END, None))

    def start_thread(self, produce: Callable[[Bridge[T]], None], name: str) -> threading.Thread:
        """Run ``produce`` on a new daemon thread (started) through :meth:`run`."""
        thread = threading.Thread(target=self.run, args=(produce,), name=name, daemon=True)
        thread.start()
        return thread

    def items(self, timeout: float | None = None) -> Iterator[T]:
        """The items in order (consumer side); :class:`BridgeTimeout` when none comes for
        ``timeout`` seconds."""
        while True:
            try:
                kind, value = self._queue.get(timeout=timeout)
            except queue.Empty:
                raise BridgeTimeout(f"nothing was produced for {timeout:g} s") from None
            if kind == _ITEM:
                yield value
            elif kind == _ERROR:
                raise value
            else:
                return


class AsyncBridge(Generic[T]):
    """Producer thread -> a consumer on the event loop ``loop`` (the loop that creates it when
    none is given). Same contract as :class:`Bridge`, with ``async for`` on :meth:`items`."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop or asyncio.get_running_loop()
        self._queue: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()

    def _send(self, kind: int, value: Any) -> None:
        self._loop.call_soon_threadsafe(self._queue.put_nowait, (kind, value))

    def put(self, item: T) -> None:
        """Hand one item over (producer side, any thread)."""
        self._send(_ITEM, item)

    def run(self, produce: Callable[[AsyncBridge[T]], None]) -> None:
        """Call ``produce(self)`` (on the producer's thread: an executor's, say), then end or
        fail the consumer's iteration."""
        try:
            produce(self)
        except BaseException as exc:
            self._send(_ERROR, exc)
        else:
            self._send(_END, None)

    async def items(self) -> AsyncIterator[T]:
        """The items in order, on the loop."""
        while True:
            kind, value = await self._queue.get()
            if kind == _ITEM:
                yield value
            elif kind == _ERROR:
                raise value
            else:
                return
