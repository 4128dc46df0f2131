"""04 · Strategy preference bias: proficiency Q and bias B of the planners on ESConv.

Runs the ``prior`` and ``trained`` planners, and ``trained`` with its bias correction (the
agent's default), on the first supporter turns of ESConv's ``valid.jsonl``; then writes the
corrected planner's predictions in the published predictions format (``strg_gold`` /
``strg_pred``) and scores that file, as ``attune eval bias`` does.

    python demos/04_strategy_bias.py [--limit 300] [--plot bias.png]

The same from the command line: ``attune eval strategies --data FILE --planner trained --correct``.
"""

import argparse
import json
import tempfile
from pathlib import Path

from agent import load_settings
from attune import registry
from strategies.data import load_predictions, load_samples
from strategies.evaluation import evaluate_predictions, plot_preferences, run_planner
from strategies.metrics import format_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=300, help="supporter turns to evaluate")
    parser.add_argument("--plot", type=Path, help="bar chart of the corrected planner's p_i")
    args = parser.parse_args()

    settings = load_settings()
    data = settings.paths.data_dir / "esconv" / "valid.jsonl"
    samples = load_samples(data, args.limit)
    embedder = registry.create("embedder", settings.backends.embedder, settings)
    print(f"{len(samples)} supporter turns from {data.name}\n")

    run = None
    for name, correct in (("prior", False), ("trained", False), ("trained", True)):
        planner = registry.create(
            "strategy_planner",
            name,
            load_settings(planner={"correct": correct}),
            embedder=embedder,
        )
        run = run_planner(planner, samples, batch_size=100)
        report = run.report()
        print(
            f"{planner.name:<18} Q={report.q:6.2f}  weighted-F1={report.weighted_f1:6.2f}  "
            f"B={report.bias:.3f}"
        )
    assert run is not None

    # the published predictions format, then the metrics from that file alone
    rows = [
        {
            "strg_gold": sample.gold.value,
            "strg_pred": predicted.value,
            "situation": sample.context.situation,
            "emotion_type": sample.context.emotion_type,
            "problem_type": sample.context.problem_type,
        }
        for sample, predicted in zip(run.samples, run.predictions, strict=True)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "predictions.json"
        path.write_text(json.dumps(rows, indent=1), encoding="utf-8")
        report = evaluate_predictions(load_predictions(path))
    print("\nfrom the predictions file (trained+corrected):")
    print(format_table(report))
    if args.plot:
        print(f"wrote {plot_preferences(report, args.plot, 'trained+corrected')}")


if __name__ == "__main__":
    main()
