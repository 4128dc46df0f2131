"""Test-only entry point: ``attune serve`` over fake backends, in its own process.

``python -m tests.server.fake_serve --db FILE [--dsn DSN] [--token T] [--slow SECONDS]`` listens on
a free loopback port and prints ``listening <port>`` once ready. The restart tests SIGKILL it.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from server.app import serve
from tests.server.harness import SlowLLM, fake_server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--dsn")
    parser.add_argument("--token")
    parser.add_argument("--slow", type=float, default=0.0, help="seconds per LLM token")
    args = parser.parse_args()
    server = fake_server(
        args.db,
        dsn=args.dsn,
        llm=SlowLLM(delay=args.slow) if args.slow else None,
        tokens=(args.token,) if args.token else (),
    )

    def ready(port: int) -> None:
        print(f"listening {port}", flush=True)

    asyncio.run(serve(server, "127.0.0.1", 0, ready))


if __name__ == "__main__":
    main()
