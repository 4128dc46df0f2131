from agent.reply import ReplyScorer, clean_reply, split_sentences
from attune.taxonomy import Strategy
from tests.fakes import FakeEmbedder


def test_clean_reply_strips_roles_and_invented_turns():
    raw = 'Assistant: "I hear you. That sounds hard."\nUser: thanks\nAssistant: more'
    assert clean_reply(raw) == "I hear you. That sounds hard."


def test_clean_reply_keeps_three_sentences_and_drops_a_cut_fragment():
    raw = "One. Two! Three? Four. And then the model ran out of tok"
    assert clean_reply(raw) == "One. Two! Three?"
    assert clean_reply("Only a fragment without end") == "Only a fragment without end"
    assert clean_reply("First sentence. Cut fragm") == "First sentence."


def test_split_sentences():
    assert split_sentences("A b. C d? E!") == ["A b.", "C d?", "E!"]


def test_scorer_penalises_bad_forms():
    scorer = ReplyScorer(FakeEmbedder())
    good = "I'm so sorry your dog died. What was he like?"
    ai = "As an AI language model, I cannot feel. What was he like?"
    loop = "I am sorry I am sorry I am sorry I am sorry I am sorry."
    best = scorer.best([ai, loop, good], Strategy.QUESTION, "My dog died yesterday")
    assert best.text == good
    scored = {s.text: s for s in scorer.score([ai, loop, good], Strategy.QUESTION, "My dog died")}
    assert scored[ai].penalty >= 1.0 and scored[loop].penalty > 0
    assert scorer.score([], Strategy.QUESTION, "x") == []


def test_question_strategy_wants_a_question():
    scorer = ReplyScorer(FakeEmbedder())
    scored = scorer.score(["That is sad.", "That is sad. What happened?"], Strategy.QUESTION, "x")
    assert scored[0].penalty > scored[1].penalty


def test_strategy_prototypes_are_computed_once_per_embedder():
    class Counting(FakeEmbedder):
        calls = 0

        def embed(self, texts):
            Counting.calls += 1
            return super().embed(texts)

    embedder = Counting()
    for _ in range(3):
        ReplyScorer(embedder).score(["Sorry. What happened?"], Strategy.QUESTION, "bad day")
    # 8 strategy prototypes once, then one call per score() for candidates + message
    assert Counting.calls == 8 + 3
