"""How every backend loads: once, thread-safe, timed, through :meth:`Loadable.load`.

A backend writes :meth:`Loadable._load` (what loading is: weights, sessions, files) and calls
``self.load()`` wherever it needs them; the base classes of the roles derive from
:class:`Loadable`, so the lock, the flag and the timing live here once. A failed load leaves
the backend unloaded, and the next call tries again.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import ClassVar

logger = logging.getLogger(__name__)

_GUARD = threading.Lock()


class Loadable:
    """The lifecycle mixin of a backend (see the module docstring)."""

    #: Seconds the load took, ``None`` until it has happened.
    load_seconds: float | None = None
    #: Whether loading reads model weights (``False``: it only makes a client or a handle);
    #: the tests' fast tier allows only backends that do not.
    loads_weights: ClassVar[bool] = True

    @property
    def loaded(self) -> bool:
        """Whether :meth:`load` has completed."""
        return bool(self.__dict__.get("_lifecycle_loaded", False))

    def load(self) -> None:
        """Load now (idempotent, thread-safe; otherwise on first use). Not to be overridden:
        write :meth:`_load`."""
        if self.__dict__.get("_lifecycle_loaded"):
            return
        with self._lifecycle_lock():
            if self.__dict__.get("_lifecycle_loaded"):
                return
            started = time.perf_counter()
            self._load()
            self.load_seconds = time.perf_counter() - started
            self.__dict__["_lifecycle_loaded"] = True
        logger.info("%s loaded in %.2f s", type(self).__name__, self.load_seconds)

    def _load(self) -> None:
        """What loading is for this backend; called once, under the lock, by :meth:`load`."""

    def _forget_load(self) -> None:
        """After freeing what :meth:`_load` made (a ``close``): the next :meth:`load` loads
        again. Call it holding :meth:`_lifecycle_lock`."""
        self.__dict__["_lifecycle_loaded"] = False

    def _lifecycle_lock(self) -> threading.RLock:
        # re-entrant: a backend's _load may call methods that call load() on a collaborator
        lock = self.__dict__.get("_lifecycle_lock_")
        if lock is None:
            with _GUARD:
                lock = self.__dict__.setdefault("_lifecycle_lock_", threading.RLock())
        return lock
