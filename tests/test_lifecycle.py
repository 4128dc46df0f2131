"""Every backend loads through :class:`attune.lifecycle.Loadable`: once, thread-safe, timed."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest

from attune import registry
from attune.lifecycle import Loadable
from tests.conformance.backends import CASES


class Slow(Loadable):
    def __init__(self, fail_first: bool = False) -> None:
        self.loads = 0
        self.fail_first = fail_first

    def _load(self) -> None:
        self.loads += 1
        time.sleep(0.05)
        if self.fail_first and self.loads == 1:
            raise OSError("the weights are not readable")


def test_loads_once_whoever_asks_and_however_many_at_once() -> None:
    backend = Slow()
    assert not backend.loaded and backend.load_seconds is None
    threads = [threading.Thread(target=backend.load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    backend.load()
    assert backend.loads == 1 and backend.loaded
    assert backend.load_seconds is not None and backend.load_seconds >= 0.05


def test_a_failed_load_is_tried_again() -> None:
    backend = Slow(fail_first=True)
    with pytest.raises(OSError):
        backend.load()
    assert not backend.loaded
    backend.load()
    assert backend.loaded and backend.loads == 2


def test_a_closed_backend_loads_again() -> None:
    backend = Slow()
    backend.load()
    with backend._lifecycle_lock():
        backend._forget_load()
    backend.load()
    assert backend.loads == 2


def test_every_backend_and_fake_uses_the_one_lifecycle() -> None:
    classes = []
    for role, table in registry.REGISTRY.items():
        for name in table:
            # an optional backend not installed here is skipped
            with contextlib.suppress(registry.BackendUnavailableError):
                classes.append(registry.backend_class(role, name))
    assert len(classes) >= 15
    for table in CASES.values():
        fake = table["fake"](None)  # type: ignore[arg-type]  # fakes need no temp dir
        classes.append(type(fake))
    for cls in classes:
        assert issubclass(cls, Loadable), cls
        assert cls.load is Loadable.load, f"{cls.__name__} overrides load(): write _load()"
