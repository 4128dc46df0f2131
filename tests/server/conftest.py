"""Fixtures of the server tests: a throwaway PostgreSQL cluster, free ports, subprocess servers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A PostgreSQL server of its own for the test session (skipped, with the reason, when it
    cannot be started here). As root the cluster runs as the ``postgres`` user."""
    initdb = PG_BIN / "initdb" if (PG_BIN / "initdb").exists() else shutil.which("initdb")
    pg_ctl = PG_BIN / "pg_ctl" if (PG_BIN / "pg_ctl").exists() else shutil.which("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    as_user: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="attune-pg-"))
    data = base / "data"
    if os.geteuid() == 0:
        if not shutil.which("runuser"):
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        as_user = ["runuser", "-u", "postgres", "--"]
        base.chmod(0o755)
        shutil.chown(base, "postgres")
    port = free_port()
    log = base / "postgres.log"
    try:
        subprocess.run(
            [*as_user, str(initdb), "-D", str(data), "-A", "trust", "-U", "postgres",
             "--no-sync", "-E", "UTF8"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        subprocess.run(
            [*as_user, str(pg_ctl), "-D", str(data), "-l", str(log), "-w", "-t", "60",
             "-o", f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off",
             "start"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"PostgreSQL could not start: {exc} {detail.decode(errors='replace')[-300:]}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, str(pg_ctl), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True, timeout=60,
        )  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)


class ServerProcess:
    """``tests.server.fake_serve`` in a subprocess; :meth:`kill` is SIGKILL."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.server.fake_serve", *args],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("listening"):
            self.process.kill()
            raise RuntimeError(f"server did not start: {line} {self.process.stderr.read()[-2000:]}")  # type: ignore[union-attr]
        self.port = int(line.split()[1])
        self.url = f"ws://127.0.0.1:{self.port}/ws"

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)


@pytest.fixture
def server_process() -> Iterator[type[ServerProcess]]:
    """Start fake-backed servers in subprocesses; all are killed at the end of the test."""
    started: list[ServerProcess] = []

    class Tracked(ServerProcess):
        def __init__(self, *args: str) -> None:
            super().__init__(*args)
            started.append(self)

    yield Tracked
    for proc in started:
        if proc.process.poll() is None:
            proc.kill()
