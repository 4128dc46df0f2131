"""docs/RESULTS.md is what its JSON gives (no figure typed by hand), and the rendering shows
each figure against its target."""

from __future__ import annotations

import json
from pathlib import Path

from attune.commands.results import RESULTS_MD, SOURCES, Source, render, render_source


def test_results_md_is_generated_from_the_committed_json() -> None:
    assert RESULTS_MD.read_text("utf-8") == render(), "run `attune results` (make results)"


def test_every_source_is_committed_or_said_to_be_missing() -> None:
    text = render()
    for source in SOURCES:
        assert f"`{source.path}`" in text


def test_figures_are_shown_against_their_targets(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_text(
        json.dumps(
            {
                "text": {"first_ms": {"p50": 620.0, "p95": 900.0, "target_p50": 1000.0}},
                "voice": {"first_audio_ms": {"p50": 1400.0, "target_p50": 1200.0}},
                "runs": {
                    "a": {"bleu_2": 7.1, "rouge_l": 17.5},
                    "b": {"bleu_2": 8.2, "rouge_l": 18.1},
                },
                "notes": "x" * 130,
            }
        )
    )
    lines = render_source(Source("r.json", "A test", "make it"), root=tmp_path)
    text = "\n".join(lines)
    assert "| text.first_ms | p50 | 620 | 1000 | yes |" in text
    assert "| voice.first_audio_ms | p50 | 1400 | 1200 | **no** |" in text
    assert "|  | bleu_2 | rouge_l |" in text and "| b | 8.2 | 18.1 |" in text
    assert "*notes*: " + "x" * 130 in text
    missing = "\n".join(render_source(Source("absent.json", "Absent", "make it"), root=tmp_path))
    assert "Not measured yet" in missing
