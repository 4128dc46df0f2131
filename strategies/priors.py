"""Strategy statistics from ESConv used by the prior planner, and the script that computes them.

Reproduce the shipped table (``strategies/data/strategy_priors.json``)::

    python -m strategies.priors --data ../shared/data/esconv/train.jsonl \
        --out strategies/data/strategy_priors.json

The table is derived from ESConv (CC BY-NC 4.0): it inherits the non-commercial restriction.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

from attune.taxonomy import STRATEGIES, Strategy
from strategies.data import evaluation_samples, load_dialogues

#: Conversation stages are the number of seeker utterances so far, capped here.
MAX_STAGE = 10
START = "<start>"


def compute_priors(train_jsonl: Path) -> dict[str, object]:
    """Count supporter strategies by stage and by previous strategy in an ESConv file.

    Only supporter turns after the first seeker utterance count (the evaluation samples of
    :mod:`strategies.data`); either ESConv format is read.
    Returns add-one smoothed probability tables, keyed by strategy value.
    """
    by_stage: dict[int, Counter[Strategy]] = defaultdict(Counter)
    by_previous: dict[str, Counter[Strategy]] = defaultdict(Counter)
    overall: Counter[Strategy] = Counter()
    dialogues = load_dialogues(train_jsonl)
    for sample in evaluation_samples(dialogues):
        context = sample.context
        stage = min(context.seeker_turns, MAX_STAGE)
        previous = context.previous_strategies[-1].value if context.previous_strategies else START
        by_stage[stage][sample.gold] += 1
        by_previous[previous][sample.gold] += 1
        overall[sample.gold] += 1

    def smooth(counts: Counter[Strategy]) -> dict[str, float]:
        total = sum(counts.values()) + len(STRATEGIES)
        return {s.value: round((counts[s] + 1) / total, 6) for s in STRATEGIES}

    return {
        "source": str(Path(train_jsonl).name),
        "licence": "derived from ESConv, CC BY-NC 4.0 (non-commercial research use)",
        "dialogues": len(dialogues),
        "samples": sum(overall.values()),
        "overall": smooth(overall),
        "by_stage": {str(k): smooth(by_stage[k]) for k in sorted(by_stage)},
        "by_previous": {k: smooth(v) for k, v in sorted(by_previous.items())},
    }


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: compute and write the priors table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="ESConv train.jsonl")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    table = compute_priors(args.data)
    args.out.write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({table['samples']} supporter turns)")


if __name__ == "__main__":
    main()
