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
    assert steps["cause"] == "he was sick"
    assert "comfort" in steps["goal"]


def test_invalid_llm_steps_fall_back_and_are_traced():
    llm = '{"event": "...", "emotion": "happy", "cause": "loss of a pet", "goal": ""}'
    appraisal = build_appraisal("My dog died yesterday.", SAD, llm)
    assert appraisal.sources == {
        "event": "perception",  # placeholder
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
    assert set(appraisal.sources.values()) == {"perception"}
    assert appraisal.emotion == "unclear from the message"
    assert all(appraisal.as_lines())


def test_instruction_echo_is_rejected():
    llm = '{"event": "what happened to them, in a few words", "emotion": "sad"}'
    appraisal = build_appraisal("My dog died.", SAD, llm)
    assert appraisal.sources["event"] == "perception"
    assert appraisal.sources["emotion"] == "llm"


def test_describe_emotion_neutral():
    neutral = build_text_emotion({"neutral": 0.9}, 0.5, "t")
    assert describe_emotion(neutral) == "calm or neutral"
