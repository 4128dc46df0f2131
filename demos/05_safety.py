"""05 · Care and safety: a graded response (none / concern / crisis), and forgetting the session.

Every message gets a safety tier. Ordinary sadness is *none* and takes the normal path. A risk
indicator without stated intent, plan or means ("I feel like a burden") is *concern*: the normal
empathetic reply runs and ends with a gentle, direct check-in, and the next message is read as
the answer to it. Stated intent, a plan or means is *crisis*: Attune skips the planner and the
LLM, answers with a safe, caring reply and the locale's crisis resources, and streams a
``crisis`` event (a kiosk or a server can alert staff). Then the conversation is deleted.

    python demos/05_safety.py
"""

import tempfile
from pathlib import Path

from agent import Attune, load_settings


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(paths={"state_dir": Path(tmp)}, safety={"locale": "en-US"})
        with Attune(settings) as bot:
            print("--- an ordinary sad turn: none")
            result = bot.turn("I lost my job today and I feel really sad about it.", "demo-safety")
            assert result.safety is not None and result.strategy is not None
            print(f"tier: {result.safety.tier}; strategy: {result.strategy.strategy}")
            print(f"reply: {result.reply}")

            print("--- a risk indicator: concern")
            text = "I feel like a burden to my family since I lost my job."
            result = bot.turn(text, "demo-safety")
            assert result.safety is not None
            print(f"tier: {result.safety.tier} ({result.safety.reason})")
            print(f"reply: {result.reply}")

            print("--- the answer, read against the check-in: crisis")
            for event in bot.stream_turn("yes, sometimes", "demo-safety"):
                if event.type == "safety":
                    print(f"[safety] {event.data['tier']}: {event.data['reason']}")
                elif event.type == "crisis":
                    names = [r["name"] for r in event.data["resources"]]  # type: ignore[union-attr]
                    print(f"[crisis] {event.data['category']} resources: {', '.join(names)}")
                elif event.type == "reply.done":
                    result_data = event.data["result"]
                    strategy = result_data["strategy"]  # type: ignore[index]
                    print(f"reply: {event.data['text']}")
                    print(f"strategy overridden: {strategy['overridden']} ({strategy['reason']})")

            print("--- privacy")
            for info in bot.sessions():
                print(f"stored: {info.session_id} ({info.messages} messages)")
            bot.forget("demo-safety")
            print(f"forgot demo-safety; {len(bot.sessions())} sessions left")


if __name__ == "__main__":
    main()
