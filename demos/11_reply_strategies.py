"""11 · The reply model tuned for emotional support, steered by strategy.

The bundled SmolLM2 runs with the project's LoRA adapter (trained on ESConv supporter turns,
CC BY-NC 4.0). A conversation carried over from elsewhere is imported, then the same message
is answered three times with a strategy imposed, and the replies are scored with the metrics of
``attune eval replies`` against one reply a person might give.

    python demos/11_reply_strategies.py
"""

import tempfile

from agent import Attune, load_settings
from agent.tuning.metrics import reply_scores
from attune.types import ChatMessage

EARLIER = [
    ChatMessage(role="assistant", content="Hi, how are you doing today?"),
    ChatMessage(role="user", content="Not great. I lost my job last week."),
    ChatMessage(role="assistant", content="I'm sorry to hear that. How are you coping?"),
]
MESSAGE = "I keep thinking I should have seen it coming. I don't know how to tell my family."
REFERENCE = "That sounds really hard. It's not your fault. What makes telling them feel so hard?"
STRATEGIES = ("Question", "Reflection of feelings", "Providing Suggestions")


def main() -> None:
    with (
        tempfile.TemporaryDirectory() as state,
        Attune(load_settings(paths={"state_dir": state})) as bot,
    ):
        llm = bot.context.llm
        adapter = getattr(llm, "adapter", None)
        print(f"reply model: {llm.reply_prompt} ({adapter.name if adapter else 'no adapter'})")
        replies = []
        for i, strategy in enumerate(STRATEGIES):
            session = f"demo-{i}"
            bot.import_history(session, EARLIER)
            result = bot.turn(MESSAGE, session, strategy=strategy)
            assert result.strategy is not None
            replies.append(result.reply)
            print(f"[{result.strategy.strategy.value}] {result.reply}")
            print(f"    {result.timings_ms['total']:.0f} ms")
    scores = reply_scores(replies, [REFERENCE] * len(replies))
    print(
        f"against one reference: BLEU-2 {scores['bleu_2']:.1f}, ROUGE-L {scores['rouge_l']:.1f}, "
        f"Distinct-2 {scores['distinct_2']:.1f}"
    )


if __name__ == "__main__":
    main()
