"""Privacy controls over the session store: list, forget and expire stored conversations.

A session lives only in the checkpointer (thread id = session id). Forgetting one deletes every
checkpoint and pending write of its thread; on the SQLite store the deletion runs with
``PRAGMA secure_delete`` (freed pages are overwritten with zeros) and the write-ahead log is then
checkpointed and truncated, so the words do not linger in free pages or the ``-wal`` file.
Retention (``safety.retention_days``) forgets every session whose last checkpoint is older.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from attune.types import SessionInfo

log = logging.getLogger(__name__)


def _sqlite_conn(saver: BaseCheckpointSaver[Any]) -> Any:
    """The sqlite3 connection of a ``SqliteSaver``, else ``None``."""
    conn = getattr(saver, "conn", None)
    return conn if conn is not None and hasattr(conn, "execute") else None


def session_ids(saver: BaseCheckpointSaver[Any]) -> list[str]:
    """Every session (thread) id in the store, sorted."""
    conn = _sqlite_conn(saver)
    if conn is not None:
        with saver.lock:  # type: ignore[attr-defined]
            rows = conn.execute(
                "SELECT thread_id FROM checkpoints UNION SELECT thread_id FROM writes"
            ).fetchall()
        return sorted(str(r[0]) for r in rows)
    return sorted({str(t.config["configurable"]["thread_id"]) for t in saver.list(None)})


def session_info(saver: BaseCheckpointSaver[Any], session_id: str) -> SessionInfo:
    """When a session last changed and how many messages it holds."""
    latest = saver.get_tuple({"configurable": {"thread_id": session_id}})
    if latest is None:
        return SessionInfo(session_id=session_id)
    history = latest.checkpoint.get("channel_values", {}).get("history", [])
    return SessionInfo(
        session_id=session_id,
        updated_at=latest.checkpoint.get("ts"),
        messages=len(history) if isinstance(history, list) else 0,
    )


def list_sessions(saver: BaseCheckpointSaver[Any]) -> list[SessionInfo]:
    """Every stored session, most recently updated first."""
    infos = [session_info(saver, sid) for sid in session_ids(saver)]
    return sorted(infos, key=lambda i: i.updated_at or "", reverse=True)


def forget_session(saver: BaseCheckpointSaver[Any], session_id: str) -> bool:
    """Delete everything stored for ``session_id``; whether there was anything to delete."""
    existed = session_id in session_ids(saver)
    conn = _sqlite_conn(saver)
    if conn is not None:
        with saver.lock:  # type: ignore[attr-defined]
            conn.execute("PRAGMA secure_delete = ON")
    saver.delete_thread(session_id)
    if conn is not None:
        with saver.lock:  # type: ignore[attr-defined]
            conn.commit()
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    if existed:
        log.info("forgot a session")
    return existed


def prune_sessions(
    saver: BaseCheckpointSaver[Any], older_than_days: float, now: datetime | None = None
) -> list[str]:
    """Forget every session not updated for ``older_than_days``; the ids forgotten.

    ``older_than_days <= 0`` keeps everything. ``now`` defaults to the current UTC time.
    """
    if older_than_days <= 0:
        return []
    cutoff = (now or datetime.now(UTC)) - timedelta(days=older_than_days)
    forgotten = []
    for info in list_sessions(saver):
        updated = _parse_ts(info.updated_at)
        if updated is not None and updated < cutoff:
            forget_session(saver, info.session_id)
            forgotten.append(info.session_id)
    if forgotten:
        log.info("retention: forgot %d sessions (> %g days)", len(forgotten), older_than_days)
    return forgotten


def _parse_ts(ts: str | None) -> datetime | None:
    if not ts:
        return None
    try:
        parsed = datetime.fromisoformat(ts)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
