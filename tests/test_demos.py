"""Every numbered demo runs, with the real bundled models."""

import subprocess
import sys
from pathlib import Path

import pytest

DEMOS = sorted((Path(__file__).resolve().parent.parent / "demos").glob("[0-9][0-9]_*.py"))
EXPECT = {
    "01_text_turn.py": ["reply:", "strategy:", "event:"],
    "02_streaming_session.py": ["[perception]", "[appraisal]", "[strategy]", "4 messages"],
    "03_text_emotion.py": ["valence", "intensity"],
    "04_strategy_bias.py": ["prior ", "trained+corrected", "Q=", "B=", "Reflection of feelings"],
    "05_safety.py": [
        "tier: none",
        "tier: concern (risk indicator: you feel like a burden)",
        "are you having thoughts of ending your life?",
        "[safety] crisis",
        "[crisis] suicidal_ideation",
        "988",
        "overridden: True",
        "0 sessions left",
    ],
    "06_voice_turn.py": ["heard: I failed my driving test", "[audio.chunk]", "reply:", "voice "],
    "08_avatar.py": ["[avatar.cues]", "[avatar.video]", "reply:", "cartoon still:"],
    "09_server_client.py": ["events: turn.queued perception", "reply:", "resumed", "2 messages"],
    "10_web_pages.py": [
        "reply:",
        "fused: Overall:",
        "strategy:",
        "kiosk avatar: portrait",
        "kiosk state: attract",
        "screenshots: chat.png, kiosk.png",
    ],
    "11_reply_strategies.py": [
        "reply model: tuned (replies-lora.gguf)",
        "[Question]",
        "[Reflection of feelings]",
        "[Providing Suggestions]",
        "against one reference: BLEU-2",
    ],
    "07_face_and_fusion.py": [
        "label=happy",
        "incongruent: True",
        "incongruent: False",
        "appraisal goal: gently reflect the mixed feelings",
    ],
    "13_strategy_bias_study.py": [
        "| trained+correct | 20 |",
        "| bundled/llm:direct | 20 |",
        "| bundled/llm:planner | bundled/llm:direct |",
        "second run: 0 asked, 40 from the cache",
        "same predictions from the cache: True",
    ],
    "12_chain_of_empathy.py": [
        "cause (dialogue): They lost their job last week",
        "LLM calls for the chain: 0",
        "incongruent True",
        "'failure'",
    ],
}


def test_every_demo_has_expectations():
    assert sorted(d.name for d in DEMOS) == sorted(EXPECT)


@pytest.mark.slow
@pytest.mark.parametrize("demo", DEMOS, ids=lambda p: p.name)
def test_demo_runs(demo):
    proc = subprocess.run([sys.executable, str(demo)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for needle in EXPECT[demo.name]:
        assert needle in proc.stdout, (needle, proc.stdout[-2000:])
