"""Attune's agent: the LangGraph state machine and the public API.

``from agent import Attune, load_settings`` is the entry point for programs (``registry`` and
``AttuneSettings`` come along from the vocabulary, :mod:`attune`); importing this package loads no
model and imports no model runtime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attune import registry
from attune.settings import AttuneSettings, load_settings

if TYPE_CHECKING:
    from agent.core import Attune

__all__ = ["Attune", "AttuneSettings", "load_settings", "registry"]


def __getattr__(name: str) -> Any:
    # Attune pulls in langgraph; keep `import agent` light for settings-only users.
    if name == "Attune":
        from agent.core import Attune

        return Attune
    raise AttributeError(name)
