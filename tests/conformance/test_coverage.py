"""Every registered backend is in the conformance suite, so a new one is tested by one line."""

from __future__ import annotations

from attune import registry
from tests.conformance.backends import CASES


def test_every_registered_backend_is_in_the_suite() -> None:
    missing = [
        f"{role}/{name}"
        for role, table in registry.REGISTRY.items()
        for name in table
        if name not in CASES.get(role, {})
    ]
    assert not missing, f"add a line to tests/conformance/backends.py for {missing}"


def test_every_role_has_a_fake() -> None:
    assert set(CASES) == set(registry.REGISTRY)
    assert all("fake" in table for table in CASES.values())
