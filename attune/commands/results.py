"""``attune results``: ``docs/RESULTS.md``, generated from the JSON the benchmarks, the evaluations
and the model cards write, so that no figure in it is typed by hand and none goes stale.

Each source is a JSON file: the ones ``make results`` writes under ``docs/results/`` (``make
bench``'s output and the evaluations' ``--json``), and the model cards that ship beside their
artifacts. :func:`render` turns any such file into Markdown by one rule, whatever its shape:
figures with a target (``p50`` beside ``target_p50``...) first, then every table of scalars.
``--check`` fails when the file on disk is not what the JSON gives (a test runs it).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attune.errors import InputError

if TYPE_CHECKING:
    from attune.commands import CommandGroups
    from attune.settings import AttuneSettings

ROOT = Path(__file__).resolve().parents[2]
RESULTS_DIR = ROOT / "docs" / "results"
RESULTS_MD = ROOT / "docs" / "RESULTS.md"


@dataclass(frozen=True)
class Source:
    """One JSON file of figures: where it is, what it measures and the command that writes it."""

    path: str  # relative to the repository root
    title: str
    command: str


#: In the order they appear. A source that is absent is listed as not measured yet.
SOURCES = (
    Source("docs/results/bench.json", "Benchmarks: latency, throughput, memory",
           "attune bench --turns 20 --only text,voice,face,avatar,server "
           "--out docs/results/bench.json"),
    Source("docs/results/strategies-trained-correct.json",
           "Strategy planner: the agent's default (trained, corrected) on ESConv valid",
           "attune eval strategies --data ../shared/data/esconv/valid.jsonl --planner trained "
           "--correct --json docs/results/strategies-trained-correct.json"),
    Source("docs/results/strategies-prior.json",
           "Strategy planner: the frequency baseline (prior) on ESConv valid",
           "attune eval strategies --data ../shared/data/esconv/valid.jsonl --planner prior "
           "--json docs/results/strategies-prior.json"),
    Source("docs/results/safety.json", "Crisis detection: the project's labelled sets",
           "attune eval safety --json docs/results/safety.json"),
    Source("docs/results/safety-esconv.json",
           "Crisis detection: every seeker message of ESConv valid, with its dialogue as context",
           "attune eval safety --conversations ../shared/data/esconv/valid.jsonl "
           "--json docs/results/safety-esconv.json"),
    Source("docs/results/turns.json", "End of turn: the silence rule and Smart Turn",
           "attune eval turns --json docs/results/turns.json"),
    Source("docs/results/replies.json",
           "Replies: the default stack on ESConv valid (first 100 supporter turns)",
           "attune eval replies --data ../shared/data/esconv/valid.jsonl --limit 100 "
           "--json docs/results/replies.json"),
    Source("modalities/llm/data/replies-lora.json", "Model card: the reply adapter",
           "attune train replies; attune eval replies --limit 500 [--gold-strategy]"),
    Source("strategies/data/planner_head.json", "Model card: the trained strategy planner",
           "attune train planner --out strategies/data"),
    Source("modalities/text/artifacts/emotion_head.json",
           "Model card: the GoEmotions text-emotion head", "attune train emotion"),
)  # fmt: skip

_MAX_ROWS = 40
_MAX_LIST = 12


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.0f}"
    if value is None:
        return ""
    if isinstance(value, list):
        if len(value) > _MAX_LIST:
            return f"({len(value)} values)"
        return ", ".join(_fmt(v) for v in value)
    text = str(value).replace("|", "\\|").replace("\n", " ")
    return text


def _scalar(value: Any) -> bool:
    return (
        value is None
        or isinstance(value, (str, int, float, bool))
        or (isinstance(value, list) and all(_scalar(v) and not isinstance(v, list) for v in value))
    )


def _targets(data: Any, path: str = "") -> list[tuple[str, str, str, str, str]]:
    """(figure, measured, target, met) for every ``target_X`` beside an ``X``, depth first."""
    rows: list[tuple[str, str, str, str, str]] = []
    if isinstance(data, dict):
        for key, target in data.items():
            if key.startswith("target_") and isinstance(target, (int, float)):
                name = key.removeprefix("target_")
                measured = data.get(name)
                if isinstance(measured, (int, float)) and not isinstance(measured, bool):
                    met = "yes" if measured <= target else "**no**"
                    rows.append((path or "(top)", name, _fmt(measured), _fmt(target), met))
        for key, value in data.items():
            if isinstance(value, dict):
                rows += _targets(value, f"{path}.{key}" if path else key)
    return rows


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows[:_MAX_ROWS]]
    if len(rows) > _MAX_ROWS:
        out.append(
            f"| ({len(rows) - _MAX_ROWS} more rows in the JSON) |" + " |" * (len(header) - 1)
        )
    return out


def _pairs(data: dict[str, Any]) -> list[str]:
    return [*_table(["", "value"], [[k, _fmt(v)] for k, v in data.items()]), ""]


def _section(data: dict[str, Any], path: str, depth: int) -> list[str]:
    """Scalars as a key/value table; dicts of scalars that share their keys (runs of one
    evaluation) as one table with a row each, other such dicts a table each; lists of flat
    objects as tables; deeper dicts as sub-sections; long strings as notes."""
    lines: list[str] = [f"{'#' * min(depth, 6)} {path}", ""] if path else []
    notes = {k: v for k, v in data.items() if isinstance(v, str) and len(v) > 120}
    flat = {
        k: v for k, v in data.items()
        if _scalar(v) and k not in notes and not k.startswith("target_")
    }  # fmt: skip
    small = {
        k: v for k, v in data.items()
        if isinstance(v, dict) and v and all(_scalar(x) for x in v.values())
    }  # fmt: skip
    deeper = {k: v for k, v in data.items() if isinstance(v, dict) and k not in small}
    lists = {k: v for k, v in data.items() if isinstance(v, list) and not _scalar(v)}
    for key, text in notes.items():
        lines += [f"*{key}*: {_fmt(text)}", ""]
    if flat:
        lines += _pairs(flat)
    shared = set.intersection(*(set(v) for v in small.values())) if small else set()
    if len(small) >= 2 and len(shared) >= 2:
        columns = list(dict.fromkeys(c for v in small.values() for c in v))
        columns = [c for c in columns if not c.startswith("target_")]
        rows = [[k, *(_fmt(v.get(c)) for c in columns)] for k, v in small.items()]
        lines += [*_table(["", *columns], rows), ""]
    else:
        for key, value in small.items():
            lines += [f"**{key}**", "", *_pairs(value)]
    for key, items in lists.items():
        objects = [x for x in items if isinstance(x, dict)]
        if objects and all(all(_scalar(v) for v in x.values()) for x in objects):
            heads = list(dict.fromkeys(c for x in objects for c in x))
            body = [[_fmt(x.get(c)) for c in heads] for x in objects]
            lines += [f"**{key}**", "", *_table(heads, body), ""]
        else:
            lines += [f"*{key}*: {len(items)} entries (in the JSON)", ""]
    for key, value in deeper.items():
        lines += _section(value, f"{path}.{key}" if path else key, depth + 1)
    return lines


def render_source(source: Source, root: Path = ROOT) -> list[str]:
    """The Markdown of one source (or a line saying it has not been measured yet)."""
    lines = [
        f"## {source.title}",
        "",
        f"Source: `{source.path}`; reproduce: `{source.command}`",
        "",
    ]
    file = root / source.path
    if not file.is_file():
        return [*lines, "*Not measured yet: run the command above, then `attune results`.*", ""]
    try:
        data = json.loads(file.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError("bad_json", f"{source.path} is not readable JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InputError("bad_json", f"{source.path} must hold a JSON object")
    targets = _targets(data)
    if targets:
        lines += ["Against the targets:", ""]
        lines += _table(
            ["where", "figure", "measured", "target", "met"], [list(r) for r in targets]
        )
        lines += [""]
    return lines + _section(data, "", 2)


def render(root: Path = ROOT, sources: tuple[Source, ...] = SOURCES) -> str:
    """The whole of docs/RESULTS.md."""
    lines = [
        "# Attune: measured results",
        "",
        "Generated by `attune results` from the JSON files named in each section; do not edit by",
        "hand (`make results` re-measures and regenerates; a test fails when this file and the",
        "JSON disagree). Figures were measured on a 2-core CPU without a GPU unless a section",
        "says otherwise. ESConv-derived artifacts are CC BY-NC 4.0.",
        "",
    ]
    for source in sources:
        lines += render_source(source, root)
    return "\n".join(lines).rstrip() + "\n"


def cmd_results(args: argparse.Namespace, settings: AttuneSettings) -> int:
    text = render()
    if args.check:
        current = args.out.read_text("utf-8") if args.out.is_file() else ""
        if current != text:
            print(f"{args.out} is not what the JSON gives: run `attune results`", file=sys.stderr)
            return 1
        print(f"{args.out} agrees with its JSON")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, "utf-8")
    print(f"wrote {args.out}")
    return 0


def register(groups: CommandGroups) -> None:
    """Add the commands to the ``attune`` parser (see ``attune.commands.CommandGroups``)."""
    parser = groups.top.add_parser("results", help="write docs/RESULTS.md from the figures' JSON")
    parser.add_argument("--out", type=Path, default=RESULTS_MD, help="default docs/RESULTS.md")
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    parser.set_defaults(handler=cmd_results)
