"""``attune eval appraisal``, ``attune eval fusion`` and ``attune train background``.

Importing this module stays cheap (argparse only); handlers import what they need.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from attune.commands import esconv_file, write_json
from attune.errors import InputError


def register(groups: Any) -> None:
    """Add the commands to the ``attune`` parser (see ``attune.commands.CommandGroups``)."""
    ev = groups.eval.add_parser(
        "appraisal", help="the grounded chain of empathy against ESConv's annotations"
    )
    ev.add_argument("--data", type=Path, help="ESConv (default: DATA_DIR/esconv/valid.jsonl)")
    ev.add_argument("--json", type=Path, dest="json_out", help="write the report here")
    ev.set_defaults(handler=cmd_eval_appraisal)
    fu = groups.eval.add_parser(
        "fusion", help="the project's fusion set: utterances crossed with faces of known expression"
    )
    fu.add_argument("--json", type=Path, dest="json_out", help="write the full report here")
    fu.add_argument(
        "--cases", action="store_true", help="print every case, not only the summary and failures"
    )
    fu.set_defaults(handler=cmd_eval_fusion)
    tr = groups.train.add_parser(
        "background", help="fit the problem/emotion-type classifier on ESConv train (CC BY-NC)"
    )
    tr.add_argument("--out", type=Path, help="default: STATE_DIR/artifacts/background_minilm.npz")
    tr.set_defaults(handler=cmd_train_background)


def cmd_eval_appraisal(args: argparse.Namespace, settings: Any) -> int:
    """Run the evaluation and print the report as JSON."""
    from agent.appraisal_eval import evaluate_appraisal
    from attune import registry
    from strategies.background import BackgroundClassifier
    from strategies.data import load_dialogues

    dialogues = load_dialogues(esconv_file(args.data, settings, "valid"))
    if not dialogues:
        raise InputError("empty", "no dialogues in the data file")
    train = load_dialogues(esconv_file(None, settings, "train"))
    embedder = registry.create("embedder", settings.backends.embedder, settings)

    def progress(done: int, total: int) -> None:
        if done % 25 == 0 or done == total:
            print(f"{done}/{total} dialogues", file=sys.stderr, flush=True)

    report = evaluate_appraisal(BackgroundClassifier.load(embedder), train, dialogues, progress)
    report["data"] = (args.data or Path("valid.jsonl")).name
    if args.json_out is not None:
        write_json(args.json_out, report)
    print(json.dumps(report, indent=2))
    return 0


def cmd_eval_fusion(args: argparse.Namespace, settings: Any) -> int:
    """Run the fusion set over the configured text-emotion and face backends and the portrait
    renderer; print the summary (and the cases with ``--cases``) as JSON."""
    from agent.fusion_eval import evaluate_fusion
    from attune import registry

    text = registry.create("text_emotion", settings.backends.text_emotion, settings)
    face = registry.create("face", settings.backends.face, settings)
    renderer = registry.create("avatar", "portrait", settings)

    def progress(done: int, total: int) -> None:
        print(f"{done}/{total} faces", file=sys.stderr, flush=True)

    report = evaluate_fusion(text, face, renderer, settings.fusion, progress)
    if args.json_out is not None:
        write_json(args.json_out, report)
    shown = report if args.cases else {k: v for k, v in report.items() if k != "cases"}
    print(json.dumps(shown, indent=2))
    return 0 if not report["failures"] else 1


def cmd_train_background(args: argparse.Namespace, settings: Any) -> int:
    """Fit the background classifier on ESConv train; print its figures on valid."""
    from attune import registry
    from strategies.background import BackgroundClassifier, evaluate_background, majority_classes
    from strategies.data import load_dialogues

    train = load_dialogues(esconv_file(None, settings, "train"))
    embedder = registry.create("embedder", settings.backends.embedder, settings)
    classifier = BackgroundClassifier.fit(embedder, train)
    out = args.out or settings.paths.state_dir / "artifacts" / "background_minilm.npz"
    classifier.save(out)
    valid = load_dialogues(esconv_file(None, settings, "valid"))
    report = evaluate_background(classifier, valid, majority_classes(train))
    print(json.dumps({"out": str(out), "valid": report}, indent=2))
    return 0
