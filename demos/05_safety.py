"""05 · Care and safety: a crisis turn, an ordinary sad turn, and forgetting the session.

A message with crisis language skips the planner and the LLM: Attune answers with a safe,
caring reply and the locale's crisis resources, and streams a ``crisis`` event (a kiosk or a
server can alert staff). Ordinary sadness takes the normal path. Then the person's conversation
is deleted from the session store.

    python demos/05_safety.py
"""

import tempfile
from pathlib import Path

from agent import Attune, load_settings


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(paths={"state_dir": Path(tmp)}, safety={"locale": "en-US"})
        with Attune(settings) as bot:
            print("--- a crisis turn")
            for event in bot.stream_turn("Everyone would be better off without me.", "demo-safety"):
                if event.type == "crisis":
                    names = [r["name"] for r in event.data["resources"]]  # type: ignore[union-attr]
                    print(f"[crisis] {event.data['category']} resources: {', '.join(names)}")
                elif event.type == "reply.done":
                    result = event.data["result"]
                    strategy = result["strategy"]  # type: ignore[index]
                    print(f"reply: {event.data['text']}")
                    print(f"strategy overridden: {strategy['overridden']} ({strategy['reason']})")

            print("--- an ordinary sad turn")
            result = bot.turn("I'm so sad my dog died.", "demo-safety")
            assert result.safety is not None and result.strategy is not None
            print(f"crisis: {result.safety.crisis} (confidence {result.safety.confidence:.2f})")
            print(f"strategy: {result.strategy.strategy}, overridden {result.strategy.overridden}")
            print(f"reply: {result.reply}")

            print("--- privacy")
            for info in bot.sessions():
                print(f"stored: {info.session_id} ({info.messages} messages)")
            bot.forget("demo-safety")
            print(f"forgot demo-safety; {len(bot.sessions())} sessions left")


if __name__ == "__main__":
    main()
