"""09 · The websocket server and a client: a turn over the wire, then a resumed session.

Starts ``attune serve`` on a free loopback port (the same server ``make run`` starts), talks to
it with the Python client (``server.client.SyncAttuneClient``), reconnects to resume the session
by id, and stops the server.

    python demos/09_server_client.py
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from server.client import SyncAttuneClient


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    port = _free_port()
    with tempfile.TemporaryDirectory() as state:
        env = {**os.environ, "ATTUNE_PATHS__STATE_DIR": state}
        server = subprocess.Popen(
            [sys.executable, "-m", "attune.cli", "serve", "--port", str(port)], env=env
        )
        try:
            for _ in range(240):  # the models load first
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                    break
                except OSError:
                    time.sleep(0.5)
            url = f"ws://127.0.0.1:{port}/ws"
            with SyncAttuneClient(url) as client:
                client.connect()
                outcome = client.turn("I've been so stressed about my exams.")
                print("events:", " ".join(dict.fromkeys(outcome.types)))
                print("reply:", outcome.reply)
                session_id = client.session_id
            with SyncAttuneClient(url, session_id=session_id) as again:
                started = again.connect() or {}
                print(f"resumed {session_id}: {len(started.get('history', []))} messages")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
