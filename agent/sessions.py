"""The session store: LangGraph's SQLite checkpointer, keyed by session (thread) id."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver

from modalities.types import CHECKPOINT_TYPES


def checkpoint_serializer() -> JsonPlusSerializer:
    """A serializer that revives exactly Attune's state types (an explicit allowlist)."""
    allowed = [(cls.__module__, cls.__name__) for cls in CHECKPOINT_TYPES]
    return JsonPlusSerializer(allowed_msgpack_modules=allowed)


def open_sqlite_store(path: Path | str) -> SqliteSaver:
    """A checkpointer over the SQLite file at ``path`` (``":memory:"`` for a throwaway one)."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    saver = SqliteSaver(conn, serde=checkpoint_serializer())
    saver.setup()
    return saver
