"""CLI command modules: each has ``register(groups)`` (see ``agent.cli.CommandGroups``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modalities.errors import InputError


def esconv_file(explicit: Path | None, settings: Any, name: str) -> Path:
    """``explicit``, or ESConv's ``name`` split under the data directory; a clear error if the
    file is not there."""
    path = explicit or settings.paths.data_dir / "esconv" / f"{name}.jsonl"
    if not path.is_file():
        raise InputError("not_found", f"ESConv file not found: {path}")
    return path
