from agent.appraisal import build_appraisal, describe_emotion, fallback_appraisal, parse_appraisal
from modalities.text.labels import build_text_emotion

SAD = build_text_emotion({"sadness": 0.8, "grief": 0.6, "neutral": 0.05}, 0.5, "test")
HAPPY = build_text_emotion({"joy": 0.9}, 0.5, "test")


def test_parses_json_anywhere_in_the_text():
    text = (
        'Sure! ```json\n{"event": "lost job", "Emotion": "worried", "cause": "money",'
        ' "goal": "reassure"}\n``` hope it helps'
    )
    assert parse_appraisal(text) == {
        "event": "lost job",
        "emotion": "worried",
        "cause": "money",
        "goal": "reassure",
    }


def test_parses_key_value_lines_with_bullets_and_case():
    text = "1. Event: a breakup\n- **EMOTION**: heartbroken\n* cause = feeling left\ngoal: comfort"
    got = parse_appraisal(text)
    assert got == {
        "event": "a breakup",
        "emotion": "heartbroken",
        "cause": "feeling left",
        "goal": "comfort",
    }


def test_garbage_parses_to_nothing():
    assert parse_appraisal("I'm not sure what you mean.") == {}
    assert parse_appraisal("{not json}") == {}


def test_fallback_uses_perception_and_third_person():
    steps = fallback_appraisal("My dog died yesterday because he was sick.", SAD)
    assert steps["event"].startswith("Their dog died")
    assert "sadness" in steps["emotion"] and "strongly" in steps["emotion"]
    # the cause of the feeling is the death, not why the dog died
    assert steps["cause"] == "Their dog died yesterday because he was sick"
    assert (
        fallback_appraisal("I feel so sad because my dog died.", SAD)["cause"] == "their dog died"
    )
    assert "comfort" in steps["goal"]


def test_invalid_llm_steps_fall_back_and_are_traced():
    llm = '{"event": "...", "emotion": "happy", "cause": "loss of a pet", "goal": ""}'
    appraisal = build_appraisal("My dog died yesterday.", SAD, llm)
    assert appraisal.sources == {
        "event": "dialogue",  # placeholder: what they said
        "emotion": "perception",  # contradicts a confident sad reading
        "cause": "llm",
        "goal": "perception",  # empty
    }
    assert appraisal.cause == "loss of a pet"
    assert "sadness" in appraisal.emotion


def test_agreeing_llm_emotion_is_kept():
    appraisal = build_appraisal("I got the job!", HAPPY, '{"emotion": "excited and proud"}')
    assert appraisal.sources["emotion"] == "llm"
    assert appraisal.emotion == "excited and proud"


def test_no_llm_output_and_no_perception_still_gives_a_full_chain():
    appraisal = build_appraisal("hello there", None, None)
    assert set(appraisal.sources.values()) == {"perception", "dialogue"}
    assert appraisal.emotion == "unclear from the message"
    assert all(appraisal.as_lines())


def test_instruction_echo_is_rejected():
    llm = '{"event": "what happened to them, in a few words", "emotion": "sad"}'
    appraisal = build_appraisal("My dog died.", SAD, llm)
    assert appraisal.sources["event"] == "dialogue"
    assert appraisal.sources["emotion"] == "llm"


def test_describe_emotion_neutral():
    neutral = build_text_emotion({"neutral": 0.9}, 0.5, "t")
    assert describe_emotion(neutral) == "calm or neutral"


# --- the chain grounded in the dialogue ---------------------------------------------------------


def test_the_cause_comes_from_what_they_said_earlier_when_it_explains_more():
    from strategies.background import BackgroundGuess

    earlier = ["Hi there.", "My wife left me last month and the house feels empty."]
    guess = BackgroundGuess("breakup with partner", 0.8, "sadness", 0.6)
    steps = fallback_appraisal("Thanks. I guess I'm just tired.", SAD, earlier, guess)
    assert steps["event"] == "a break-up: Their wife left them last month and the house feels empty"
    assert steps["cause"].startswith("Their wife left them")
    assert "sadness" in steps["emotion"]
    # an unsure background is left out of the event
    unsure = BackgroundGuess("breakup with partner", 0.2, "sadness", 0.2)
    assert fallback_appraisal("Thanks.", SAD, earlier, unsure)["event"].startswith("Their wife")


def test_the_chain_never_quotes_the_supporter_and_marks_its_sources():
    from agent.appraisal_eval import grounded

    said = ["I lost my job today.", "I don't know how I'll tell my wife."]
    appraisal = build_appraisal(said[-1], SAD, None, said[:1])
    assert appraisal.sources == {
        "event": "dialogue", "emotion": "perception", "cause": "dialogue", "goal": "perception",
    }  # fmt: skip
    assert appraisal.event == "They lost their job today"
    assert appraisal.cause == "They lost their job today"  # the adverse event explains most
    for step in (appraisal.event, appraisal.cause):
        assert grounded(step, said)
    assert not grounded("I'm here to support you", said)
    assert "understand what happened" not in appraisal.goal  # the second message: past the start
    assert "understand what happened" in build_appraisal(said[0], SAD, None).goal
