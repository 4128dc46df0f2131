"""Where :mod:`attune.taxonomy` lived before the layers (0.1). Sessions stored then name this
module for their strategies, so it stays for them to load (``agent/sessions.py``). Import
:mod:`attune.taxonomy` instead (``make lint`` refuses this one)."""

from attune.taxonomy import Strategy

__all__ = ["Strategy"]
