"""02 · A streamed conversation that survives a restart.

Events arrive as the graph produces them (perception, appraisal, strategy, reply deltas, done).
The session lives in the SQLite checkpointer, so a new process can resume it by id.

    python demos/02_streaming_session.py
"""

import tempfile
from pathlib import Path

from agent import Attune, load_settings


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            paths={"state_dir": Path(tmp)}, llm={"candidates": 1}
        )  # one candidate: the reply streams token by token
        with Attune(settings) as bot:
            for event in bot.stream_turn("I failed my exam and I feel stupid.", "demo-session"):
                if event.type == "reply.delta":
                    print(event.data["text"], end="", flush=True)
                elif event.type != "reply.done":
                    print(f"[{event.type}]")
            print()
        # a new instance, as after a restart, continues the same conversation
        with Attune(settings) as bot:
            result = bot.turn("I studied for weeks, too.", "demo-session")
            print(f"after restart: {len(bot.history('demo-session'))} messages in the session")
            print(f"reply: {result.reply}")


if __name__ == "__main__":
    main()
