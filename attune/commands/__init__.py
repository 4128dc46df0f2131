"""CLI command modules: each has ``register(groups)`` (see :class:`CommandGroups`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attune.errors import InputError


@dataclass(frozen=True)
class CommandGroups:
    """Where a command module adds its sub-commands: ``attune X``, ``attune eval X``,
    ``attune train X``. Each parser sets ``handler=fn(args, settings) -> exit code``."""

    top: Any
    eval: Any
    train: Any


def esconv_file(explicit: Path | None, settings: Any, name: str) -> Path:
    """``explicit``, or ESConv's ``name`` split under the data directory; a clear error if the
    file is not there."""
    path = explicit or settings.paths.data_dir / "esconv" / f"{name}.jsonl"
    if not path.is_file():
        raise InputError("not_found", f"ESConv file not found: {path}")
    return path


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON at ``path`` (its folder made if needed): every command's
    ``--json`` report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
