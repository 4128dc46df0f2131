"""The reply evaluation and the tuned reply model: metrics against hand-computed values, the
prompt format, the adapter file, the strategy classifier, and turns over the real default stack."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from agent import Attune, load_settings
from agent.tuning import ADAPTER_PATH
from agent.tuning.evaluation import load_examples, run_turns, score_outcomes
from agent.tuning.format import SYSTEM_PROMPT, control_line, reply_examples, tuned_messages
from agent.tuning.lora import read_gguf_adapter, write_gguf_adapter
from agent.tuning.metrics import corpus_bleu, distinct, generic_share, rouge_l, tokenize
from attune.errors import InputError
from attune.taxonomy import Strategy
from attune.types import ChatMessage, GenerationParams
from modalities.llm.models import adapter_file
from strategies.data import Dialogue, Turn
from tests.agent.helpers import fake_attune

ESCONV = Path(__file__).resolve().parents[3] / "shared" / "data" / "esconv"


# --- metrics ------------------------------------------------------------------------------------


def test_tokenisation_keeps_contractions_and_splits_punctuation():
    assert tokenize("I don't know, really!") == ["i", "don't", "know", ",", "really", "!"]
    assert tokenize("It\u2019s OK") == ["it's", "ok"]


def test_bleu_against_hand_computed_values():
    # all 3 unigrams and both bigrams match; brevity penalty exp(1 - 6/3)
    assert corpus_bleu(["the cat sat"], ["the cat sat on the mat"], 1) == pytest.approx(
        100 * math.exp(-1)
    )
    assert corpus_bleu(["the cat sat"], ["the cat sat on the mat"], 2) == pytest.approx(
        100 * math.exp(-1)
    )
    # clipping: "the" counts once; longer than the reference, so no penalty
    assert corpus_bleu(["the the the"], ["the cat"], 1) == pytest.approx(100 / 3)
    # corpus level: counts are summed before the ratio (2 of 4 unigrams, 1 of 2 bigrams)
    value = corpus_bleu(["a b", "c d"], ["a b", "x y"], 2)
    assert value == pytest.approx(100 * math.sqrt(0.5 * 0.5))
    assert corpus_bleu(["a b c"], ["x y z"], 4) == 0.0


def test_rouge_l_distinct_and_generic_against_hand_computed_values():
    assert rouge_l("a b c d", "a c d e") == pytest.approx(75.0)  # LCS a c d: P = R = 3/4
    assert rouge_l("a b", "a b c d") == pytest.approx(100 * 2 * 1 * 0.5 / 1.5)
    assert rouge_l("x", "y") == 0.0
    assert distinct(["a b", "a b c"], 1) == pytest.approx(60.0)  # a b c of a b a b c
    assert distinct(["a b", "a b c"], 2) == pytest.approx(200 / 3)  # "a b", "b c" of 3
    assert generic_share(["Hi.", "hi", "HI!", "hi", "other"]) == 0.0  # "hi" twice only
    assert generic_share(["ok.", "Ok.", "OK.", "fine"]) == 0.75


# --- the prompt format --------------------------------------------------------------------------


def test_tuned_prompt_joins_runs_keeps_the_recent_dialogue_and_ends_with_the_control():
    history = [
        ChatMessage(role="assistant", content="Hi, how are you?"),
        ChatMessage(role="user", content="Not great."),
        ChatMessage(role="user", content="I lost my job."),
        ChatMessage(role="assistant", content="I'm sorry. What happened?"),
    ]
    messages = tuned_messages(history, "They let me go.", Strategy.REFLECTION)
    assert messages[0] == ChatMessage(role="system", content=SYSTEM_PROMPT)
    assert [m.role for m in messages[1:]] == ["user", "assistant", "user"]
    assert messages[1].content == "Not great. I lost my job."
    assert messages[-1].content == f"They let me go.\n{control_line(Strategy.REFLECTION)}"
    # the prefix before the new message is what the previous turn's prompt already held
    longer = tuned_messages(
        [*history, ChatMessage(role="user", content="x")], "y", Strategy.QUESTION
    )
    assert longer[-1].content.startswith("x y")


def test_examples_are_supporter_turns_that_answer_a_seeker():
    dialogue = Dialogue(
        turns=(
            Turn("supporter", "Hello, what brings you here?", Strategy.QUESTION),
            Turn("seeker", "I feel lonely."),
            Turn("seeker", "Since I moved."),
            Turn("supporter", "Moving is hard.", Strategy.REFLECTION),
            Turn("supporter", "Do you know anyone there?", Strategy.QUESTION),
            Turn("seeker", "No."),
            Turn("supporter", "Maybe a club could help.", Strategy.SUGGESTIONS),
        )
    )
    examples = list(reply_examples([dialogue]))
    assert [(e.turn_index, e.strategy) for e in examples] == [
        (3, Strategy.REFLECTION),
        (6, Strategy.SUGGESTIONS),
    ]
    assert examples[0].user_text == "I feel lonely. Since I moved."
    assert [m.role for m in examples[0].history] == ["assistant"]
    assert examples[1].history[-1].content == "Do you know anyone there?"
    # the supporter's strategies stay on the history, as in a live session: the planner reads them
    assert [m.strategy for m in examples[1].history] == [
        Strategy.QUESTION, None, None, Strategy.REFLECTION, Strategy.QUESTION,
    ]  # fmt: skip


# --- the adapter file ---------------------------------------------------------------------------


def test_adapter_gguf_round_trip(tmp_path):
    torch = pytest.importorskip("torch")
    state = {
        "blk.3.attn_v.lora_a": torch.randn(4, 16),
        "blk.3.attn_v.lora_b": torch.randn(8, 4),
    }
    path = write_gguf_adapter(tmp_path / "a.gguf", state, alpha=8.0)
    read, alpha = read_gguf_adapter(path)
    assert alpha == 8.0
    assert set(read) == set(state)
    for name, tensor in state.items():
        np.testing.assert_allclose(read[name], tensor.numpy(), atol=2e-3, rtol=2e-3)


def test_the_shipped_adapter_is_marked_and_sized():
    assert ADAPTER_PATH.is_file(), "the reply adapter ships with the package"
    assert ADAPTER_PATH.stat().st_size < 8 * 1024 * 1024
    card = json.loads(ADAPTER_PATH.with_suffix(".json").read_text())
    assert "CC BY-NC" in card["training"]["licence"]
    state, _ = read_gguf_adapter(ADAPTER_PATH)
    assert any(np.abs(v).max() > 0 for k, v in state.items() if k.endswith("lora_b"))


@pytest.mark.slow
def test_the_adapter_loads_in_llama_cpp_and_changes_the_reply():
    from modalities.llm.llamacpp import LlamaCppLLM

    messages = tuned_messages([], "I lost my job today and I feel really sad.", Strategy.QUESTION)
    params = GenerationParams(max_tokens=40, temperature=0.0, seed=1)
    replies = {}
    for name, adapter in (("base", None), ("tuned", ADAPTER_PATH)):
        llm = LlamaCppLLM(adapter=adapter, threads=2)
        try:
            replies[name] = llm.generate(messages, params)
        finally:
            llm.close()
    assert replies["tuned"].strip() and replies["tuned"] != replies["base"]


def test_a_missing_adapter_is_a_clear_error(tmp_path):
    from attune.errors import ModelNotFoundError
    from modalities.llm.llamacpp import LlamaCppLLM

    with pytest.raises(ModelNotFoundError, match="adapter"):
        LlamaCppLLM(adapter=tmp_path / "nope.gguf")


def test_the_bundled_adapter_applies_only_over_the_bundled_model(tmp_path):
    assert adapter_file(load_settings().llm) == ADAPTER_PATH
    other = tmp_path / "other.gguf"
    assert adapter_file(load_settings(llm={"model_path": str(other)}).llm) is None
    assert adapter_file(load_settings(llm={"adapter": "none"}).llm) is None


# --- imported history and an imposed strategy ---------------------------------------------------


def test_import_history_then_a_turn_with_an_imposed_strategy():
    bot = fake_attune(["Moving is hard. Who do you miss most?"], llm_appraisal=False)
    history = [
        ChatMessage(role="assistant", content="Hello, what brings you here?"),
        ChatMessage(role="user", content="I feel lonely since I moved."),
        ChatMessage(role="assistant", content="That sounds hard."),
    ]
    bot.import_history("s1", history)
    result = bot.turn("I miss my friends.", "s1", strategy="Questions")
    assert result.strategy is not None and result.strategy.strategy is Strategy.QUESTION
    assert result.strategy.reason == "given by the caller"
    assert [m.content for m in bot.history("s1")][:3] == [m.content for m in history]
    with pytest.raises(InputError, match="new session"):
        bot.import_history("s1", history)
    with pytest.raises(InputError) as bad:
        bot.turn("hi", "s2", strategy="Telepathy")
    assert bad.value.code == "bad_strategy"
    with pytest.raises(InputError):
        bot.import_history("s3", [ChatMessage(role="system", content="obey")])


def test_eval_scores_a_run_with_the_constant_reply_beside_it():
    bot = fake_attune(["I'm sorry. How long have you felt this way?"], llm_appraisal=False)
    dialogue = Dialogue(
        turns=(
            Turn("seeker", "I feel lonely."),
            Turn("supporter", "How long have you felt this way?", Strategy.QUESTION),
            Turn("seeker", "A year."),
            Turn("supporter", "That's a long time to feel this way.", Strategy.REFLECTION),
        )
    )
    examples = list(reply_examples([dialogue]))
    outcomes = run_turns(bot, examples, gold_strategy=True)
    report = score_outcomes(outcomes, classifier=None)
    assert report["n"] == 2 and report["strategy_matches_gold"] == 1.0
    assert report["rouge_l"] > report["constant_reply"]["rouge_l"]
    assert report["latency_ms"]["first_text"]["n"] == 2
    assert bot.sessions() == []  # every evaluated session is forgotten


# --- the real components ------------------------------------------------------------------------


@pytest.mark.slow
def test_the_strategy_classifier_reads_supporter_wording_above_a_floor(embedder):
    from strategies.adherence import StrategyClassifier, accuracy, supporter_utterances
    from strategies.data import load_dialogues

    if not (ESCONV / "valid.jsonl").is_file():
        pytest.skip("ESConv valid not in ../shared/data")
    classifier = StrategyClassifier.load(embedder)
    texts, labels = supporter_utterances(load_dialogues(ESCONV / "valid.jsonl")[:60])
    report = accuracy(classifier, texts, labels)
    # measured 0.50 on all of valid (8 classes; the majority class is 0.2)
    assert report["n"] > 500 and report["accuracy"] >= 0.42, report
    assert classifier.predict(["How long have you been feeling this way?"]) == [Strategy.QUESTION]


@pytest.mark.slow
def test_a_turn_over_the_real_default_stack_uses_the_tuned_model(tmp_path):
    settings = load_settings(paths={"state_dir": tmp_path})
    with Attune(settings) as bot:
        assert bot.context.llm.reply_prompt == "tuned"
        first = bot.turn("I lost my job today and I feel really sad about it.", "job")
        second = bot.turn(
            "I worked there for eight years. I don't know how I'll tell my wife.", "job"
        )
    for result in (first, second):
        assert result.safety is not None and result.safety.tier == "none"
        assert 3 <= len(result.reply.split()) <= 80
        assert result.strategy is not None and not result.strategy.overridden
    assert first.reply != second.reply


@pytest.mark.slow
def test_eval_replies_command_over_real_esconv(tmp_path, capsys):
    from attune.cli import main

    if not (ESCONV / "valid.jsonl").is_file():
        pytest.skip("ESConv valid not in ../shared/data")
    out, samples = tmp_path / "r.json", tmp_path / "s.md"
    code = main(
        ["eval", "replies", "--limit", "4", "--gold-strategy", "--json", str(out),
         "--samples", str(samples), "--samples-n", "2"]
    )  # fmt: skip
    assert code == 0
    report = json.loads(out.read_text())
    assert report["n"] == 4 and report["setup"]["gold_strategy"]
    assert report["setup"]["adapter"] == ADAPTER_PATH.name
    assert 0 <= report["adherence"] <= 1 and "constant_reply" in report
    assert samples.read_text().count("**Attune (") == 2
    assert len(load_examples(ESCONV / "valid.jsonl", 4)) == 4


@pytest.mark.slow
def test_training_checkpoints_and_resumes_where_it_stopped(tmp_path):
    """A tiny random model with the real tokenizer: two steps, an interruption, the rest."""
    torch = pytest.importorskip("torch")
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from agent.tuning.lora import TrainConfig, train_adapter
    from modalities.llm.models import resolve_model_source

    directory, gguf_file = resolve_model_source(None)
    tokenizer = AutoTokenizer.from_pretrained(str(directory), gguf_file=gguf_file)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=3,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
    )  # fmt: skip
    dialogue = Dialogue(
        turns=tuple(
            t
            for i in range(6)
            for t in (
                Turn("seeker", f"I feel sad about thing {i}."),
                Turn("supporter", f"That sounds hard, tell me about {i}.", Strategy.QUESTION),
            )
        )
    )
    examples = list(reply_examples([dialogue]))
    run = TrainConfig(rank=2, alpha=4.0, top_layers=2, batch_size=2, epochs=1.0,
                      warmup_steps=1, checkpoint_every=1)  # fmt: skip

    def model():
        torch.manual_seed(0)
        return LlamaForCausalLM(config)

    first = train_adapter(model(), tokenizer, examples, run, tmp_path, max_seconds=0.0)
    assert not first["done"] and first["record"]["steps"] == 1  # stopped after one step
    rest = train_adapter(model(), tokenizer, examples, run, tmp_path)
    assert rest["done"] and rest["record"]["steps"] == rest["record"]["total_steps"] == 3
    assert len(rest["record"]["losses"]) == 3
    assert any(float(v.abs().max()) > 0 for k, v in rest["adapters"].items() if "lora_b" in k)
    other = TrainConfig(rank=4, alpha=4.0, top_layers=2, batch_size=2, checkpoint_every=1)
    with pytest.raises(ValueError, match="another configuration"):
        train_adapter(model(), tokenizer, examples, other, tmp_path)
    # a finished run extends to more epochs (a new warmup and cosine from where it stopped)
    longer = replace(run, epochs=2.0)
    more = train_adapter(model(), tokenizer, examples, longer, tmp_path, max_seconds=0.0)
    assert more["record"]["steps"] == 4 and more["record"]["restarts"] == [3]
    assert more["record"]["losses"][:3] == rest["record"]["losses"]
    with pytest.raises(ValueError, match="finish it"):  # unfinished: no change of length
        train_adapter(model(), tokenizer, examples, replace(run, epochs=3.0), tmp_path)
    done = train_adapter(model(), tokenizer, examples, longer, tmp_path)
    assert done["done"] and done["record"]["steps"] == 6 and done["record"]["restarts"] == [3]
    with pytest.raises(ValueError, match="finish it"):  # shorter than what was trained
        train_adapter(model(), tokenizer, examples, run, tmp_path)


@pytest.mark.parametrize(
    ("text", "phatic"),
    [
        ("Hi", True),
        ("hello, how are you?", True),
        ("Thanks so much for listening, bye", True),
        ("ok", True),
        ("I lost my job today and I feel really sad about it.", False),
        ("yes I did, but he did not answer", False),
        ("Good morning! I need help with my anxiety about exams next week", False),
    ],
)
def test_what_counts_as_small_talk(text, phatic):
    from agent.nodes.plan import is_phatic

    assert is_phatic(text) is phatic


def test_others_answers_small_talk_only():
    """A planner that prefers Others gets its next best strategy for a message with content."""
    from langgraph.runtime import Runtime

    from agent.context import AttuneContext
    from agent.nodes.plan import plan_strategy
    from attune.settings import AttuneSettings
    from tests.fakes import FakeEmbedder, FakeLLM, FakePlanner, FakeTextEmotion

    ctx = AttuneContext(
        settings=AttuneSettings(),
        embedder=FakeEmbedder(),
        text_emotion=FakeTextEmotion(),
        llm=FakeLLM(),
        planner=FakePlanner(Strategy.OTHERS),
    )
    runtime = Runtime(context=ctx, stream_writer=lambda event: None)
    sad = plan_strategy({"user_text": "I lost my job today and I feel sad."}, runtime)["strategy"]
    assert sad.strategy is not Strategy.OTHERS and sad.reason and not sad.overridden
    hello = plan_strategy({"user_text": "Hi there!"}, runtime)["strategy"]
    assert hello.strategy is Strategy.OTHERS and hello.reason is None
    given = plan_strategy({"user_text": "I'm sad.", "given_strategy": Strategy.OTHERS}, runtime)
    assert given["strategy"].strategy is Strategy.OTHERS


def test_a_sentence_said_twice_is_said_once():
    from agent.reply import clean_reply

    assert clean_reply("I'm sorry to hear that. I\u2019m sorry to hear that.") == (
        "I'm sorry to hear that."
    )
    assert clean_reply("That is hard. What happened? That is hard!") == (
        "That is hard. What happened?"
    )
    bot = fake_attune(["I'm so sorry. I'm so sorry. I'm so sorry. What happened?"])
    assert bot.turn("I lost my job.").reply == "I'm so sorry."


# --- a reply too thin to stand alone ------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "strategy", "user_text", "more"),
    [
        ("I'm sorry to hear that.", Strategy.REFLECTION, "I lost my job today.", True),
        ("I am so sorry to hear that.", Strategy.SUGGESTIONS, "My dog died.", True),
        ("What happened?", Strategy.QUESTION, "I lost my job today.", False),  # a question
        ("Hello, how are you today?", Strategy.OTHERS, "Hi", False),
        ("You are welcome.", Strategy.AFFIRMATION, "Thanks so much, bye", False),  # small talk
        ("That sounds really hard, losing a job you loved.", Strategy.REFLECTION, "I lost", False),
        ("", Strategy.REFLECTION, "I lost my job today.", False),
    ],
)
def test_which_replies_are_too_thin(reply, strategy, user_text, more):
    from agent.nodes.respond import needs_more

    assert needs_more(reply, strategy, user_text) is more


def test_a_thin_reply_is_continued_by_one_sentence_and_streamed():
    from modalities.llm.base import LLMCapabilities

    bot = fake_attune(
        ["I'm sorry to hear that.", "Have you told your family yet? And then more words"],
        llm_appraisal=False,
    )
    llm = bot.context.llm
    llm.capabilities = LLMCapabilities(seeded=True, continues=True)
    deltas = []
    result = None
    for event in bot.stream_turn("I lost my job today and I feel awful.", "thin"):
        if event.type == "reply.delta":
            deltas.append(event.data["text"])
        if event.type == "reply.done":
            result = event.data["result"]
    assert result is not None
    assert result["reply"] == "I'm sorry to hear that. Have you told your family yet?"
    assert "".join(deltas) == result["reply"]
    messages, params = llm.calls[-1]
    assert messages[-1].role == "assistant" and messages[-1].content == "I'm sorry to hear that."
    assert params.ignore_eos and params.max_tokens <= 40
    # small talk is not continued; a backend that cannot continue is not asked to
    assert bot.turn("Thanks, bye", "thin").reply == "I'm sorry to hear that."
    llm.capabilities = LLMCapabilities(seeded=True)
    llm.replies = ["I'm sorry to hear that."]
    calls = len(llm.calls)
    assert bot.turn("My sister is ill.", "thin-2").reply == "I'm sorry to hear that."
    assert len(llm.calls) == calls + 1


@pytest.mark.slow
def test_the_real_tuned_model_continues_a_thin_reply():
    from agent.nodes.respond import CONTINUE_TOKENS, _continue_one
    from modalities.llm.llamacpp import LlamaCppLLM

    class Ctx:
        cancelled = False

    llm = LlamaCppLLM(None, adapter=ADAPTER_PATH, parallel=1)
    Ctx.llm = llm  # type: ignore[attr-defined]
    try:
        messages = tuned_messages([], "I lost my job today and I feel awful.", Strategy.REFLECTION)
        params = GenerationParams(max_tokens=96, temperature=0.3, seed=0)
        sentence = _continue_one(Ctx(), messages, "I'm sorry to hear that.", params)  # type: ignore[arg-type]
    finally:
        llm.close()
    assert CONTINUE_TOKENS >= 20
    assert len(sentence.split()) >= 3 and sentence[-1] in ".!?", sentence
    assert "sorry to hear that" not in sentence.lower()


def test_a_continuation_that_stutters_is_dropped():
    from modalities.llm.base import LLMCapabilities

    bot = fake_attune(
        ["I think you might be feeling down.", "I think you are. More", "I think so. More"],
        llm_appraisal=False,
    )
    bot.context.llm.capabilities = LLMCapabilities(seeded=True, continues=True)
    assert bot.turn("I've been feeling down for weeks.", "s").reply == (
        "I think you might be feeling down."
    )


def test_a_continuation_attune_already_said_is_drawn_again():
    from modalities.llm.base import LLMCapabilities

    bot = fake_attune(
        [
            "I'm sorry to hear that.",
            "What was going on with your job? More",
            "Have you told anyone yet? More",
        ],
        llm_appraisal=False,
    )
    bot.context.llm.capabilities = LLMCapabilities(seeded=True, continues=True)
    bot.import_history(
        "again",
        [
            ChatMessage(role="user", content="I lost my job today."),
            ChatMessage(role="assistant", content="I'm sorry. What was going on with your job?"),
        ],
    )
    result = bot.turn("I worked there for eight years.", "again")
    assert result.reply == "I'm sorry to hear that. Have you told anyone yet?"
    seeds = [params.seed for _, params in bot.context.llm.calls[1:]]
    assert len(seeds) == 2 and seeds[0] != seeds[1]
