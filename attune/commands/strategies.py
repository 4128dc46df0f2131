"""Strategy-planner commands: ``attune eval strategies``, ``attune eval bias``,
``attune train planner`` and ``attune train correction``.

Importing this module stays cheap (argparse only); handlers import what they need.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attune import registry
from attune.commands import write_json
from attune.errors import ConfigError, InputError

if TYPE_CHECKING:
    from attune.commands import CommandGroups
    from attune.settings import AttuneSettings
    from strategies.base import StrategyPlanner
    from strategies.metrics import StrategyReport


def register(groups: CommandGroups) -> None:
    """Add the strategy commands to ``attune eval`` and ``attune train``."""
    planners = registry.names("strategy_planner")

    ev = groups.eval.add_parser(
        "strategies", help="run a strategy planner on ESConv and measure Q, weighted-F1 and B"
    )
    ev.add_argument("--data", type=Path, required=True, help="ESConv file (split JSONL or JSON)")
    ev.add_argument("--planner", choices=planners, help="strategy_planner backend (default: set)")
    ev.add_argument("--correct", action="store_true", help="apply the planner's bias correction")
    ev.add_argument("--limit", type=int, help="only the first N evaluation samples")
    ev.add_argument(
        "--stimulus", choices=["none", "positive", "negative"], help="llm planner: stimulus"
    )
    ev.add_argument("--json", type=Path, dest="json_out", help="write the metrics here")
    ev.add_argument("--plot", type=Path, help="bar chart of the preferences (PNG)")
    ev.add_argument("--batch-size", type=int, default=32, help="turns per planner call")
    ev.add_argument("--no-progress", action="store_true")
    ev.set_defaults(handler=cmd_eval_strategies)

    bias = groups.eval.add_parser(
        "bias", help="Q, weighted-F1 and preference bias B from a predictions file"
    )
    bias.add_argument(
        "--predictions", type=Path, required=True, help="JSON list with strg_gold and strg_pred"
    )
    bias.add_argument("--json", type=Path, dest="json_out", help="write the metrics here")
    bias.add_argument("--plot", type=Path, help="bar chart of the preferences (PNG)")
    bias.set_defaults(handler=cmd_eval_bias)

    tr = groups.train.add_parser(
        "planner", help="train the trained strategy planner and its bias correction"
    )
    tr.add_argument("--train", type=Path, help="ESConv train file (default: data_dir/esconv)")
    tr.add_argument("--valid", type=Path, help="ESConv valid file (default: data_dir/esconv)")
    tr.add_argument("--out", type=Path, help="output folder (default: state_dir/planner)")
    tr.add_argument("--limit", type=int, help="only the first N training samples (a quick check)")
    tr.add_argument("--weight", type=float, help="weight of B against Q/100 in the correction")
    tr.add_argument("--no-progress", action="store_true")
    tr.set_defaults(handler=cmd_train_planner)

    corr = groups.train.add_parser(
        "correction", help="fit a planner's bias correction (logit adjustment) on an ESConv file"
    )
    corr.add_argument("--planner", choices=planners, required=True)
    corr.add_argument("--data", type=Path, required=True, help="ESConv file to fit on")
    corr.add_argument("--limit", type=int, help="only the first N evaluation samples")
    corr.add_argument(
        "--out", type=Path, help="corrections file to update (default: state_dir/planner/...)"
    )
    corr.add_argument("--weight", type=float, help="weight of B against Q/100")
    corr.add_argument("--no-progress", action="store_true")
    corr.set_defaults(handler=cmd_train_correction)


# --- helpers ---------------------------------------------------------------------------------


def _planner_settings(settings: AttuneSettings, **changes: Any) -> AttuneSettings:
    planner = settings.planner.model_copy(update=changes)
    return settings.model_copy(update={"planner": planner})


def _make_planner(
    settings: AttuneSettings, name: str, *, correct: bool, stimulus: str | None
) -> StrategyPlanner:
    """The named planner, corrected only if asked (and then it must have a correction)."""
    from strategies.correction import with_correction

    changes: dict[str, Any] = {"correct": False}
    if stimulus is not None:
        changes["stimulus"] = stimulus
    plain = _planner_settings(settings, **changes)
    planner: StrategyPlanner = registry.create("strategy_planner", name, plain)
    if planner.name != name:
        raise ConfigError(
            f"planner {name!r} is not available (got {planner.name!r} instead); "
            "see the warning above for the missing file"
        )
    if correct:
        planner = with_correction(planner, _planner_settings(plain, correct=True), required=True)
    return planner


def _correction_note(settings: AttuneSettings, name: str, data: Path) -> str | None:
    from strategies.correction import load_corrections

    entry = load_corrections(settings.planner.correction_path)["planners"].get(name, {})
    fitted_on = str(entry.get("fitted_on", ""))
    if fitted_on and fitted_on.split(":")[0].strip() == data.name:
        return (
            f"note: the {name} correction was fitted on {data.name}; figures measured on the same "
            "file are optimistic"
        )
    return None


def _output(report: StrategyReport, extra: dict[str, Any], args: argparse.Namespace) -> None:
    from strategies.metrics import format_table

    print(format_table(report))
    if args.json_out:
        write_json(args.json_out, {**extra, **report.to_dict()})
        print(f"wrote {args.json_out}")
    if args.plot:
        from strategies.evaluation import plot_preferences

        title = str(extra.get("planner") or extra.get("predictions") or "")
        print(f"wrote {plot_preferences(report, args.plot, title)}")


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# --- handlers --------------------------------------------------------------------------------


def cmd_eval_strategies(args: argparse.Namespace, settings: AttuneSettings) -> int:
    """Run a planner on every evaluation sample of an ESConv file and print the metrics."""
    from strategies.data import load_samples
    from strategies.evaluation import run_planner

    if args.limit is not None and args.limit < 1:
        raise InputError("bad_limit", "--limit must be at least 1")
    samples = load_samples(args.data, args.limit)
    if not samples:
        raise InputError("no_samples", f"{args.data}: no supporter turn to evaluate")
    name = args.planner or settings.backends.strategy_planner
    planner = _make_planner(settings, name, correct=args.correct, stimulus=args.stimulus)
    if args.correct:
        note = _correction_note(settings, name, args.data)
        if note:
            print(note, file=sys.stderr)
    run = run_planner(
        planner, samples, batch_size=max(1, args.batch_size), progress=not args.no_progress
    )
    report = run.report()
    print(f"planner {planner.name} on {args.data.name}: {len(samples)} supporter turns")
    extra: dict[str, Any] = {
        "planner": planner.name,
        "data": args.data.name,
        "limit": args.limit,
        "corrected": bool(args.correct),
    }
    if name == "llm":
        extra["stimulus"] = args.stimulus or settings.planner.stimulus
    _output(report, extra, args)
    return 0


def cmd_eval_bias(args: argparse.Namespace, settings: AttuneSettings) -> int:
    """Compute Q, weighted-F1 and B from a predictions file (strg_gold / strg_pred)."""
    from strategies.data import load_predictions
    from strategies.evaluation import evaluate_predictions

    rows = load_predictions(args.predictions)
    report = evaluate_predictions(rows)
    print(f"predictions {args.predictions.name}: {len(rows)} rows")
    _output(report, {"predictions": args.predictions.name}, args)
    return 0


def _esconv_file(explicit: Path | None, settings: AttuneSettings, name: str) -> Path:
    path = explicit or settings.paths.data_dir / "esconv" / name
    if not path.is_file():
        raise InputError("not_found", f"data file not found: {path}")
    return path


def cmd_train_planner(args: argparse.Namespace, settings: AttuneSettings) -> int:
    """Train the ``trained`` planner's head and its correction (reproduces strategies/data)."""
    from strategies.correction import DEFAULT_WEIGHT
    from strategies.training import train_planner

    train = _esconv_file(args.train, settings, "train.jsonl")
    valid = _esconv_file(args.valid, settings, "valid.jsonl")
    out = args.out or settings.paths.state_dir / "planner"
    command = ["attune", "train", "planner", "--out", _display(out)]
    if args.limit:
        command += ["--limit", str(args.limit)]
    if args.weight is not None:
        command += ["--weight", str(args.weight)]
    embedder = registry.create("embedder", settings.backends.embedder, settings)
    card = train_planner(
        train,
        valid,
        out,
        embed=embedder.embed,
        cache_dir=settings.paths.state_dir / "cache",
        weight=DEFAULT_WEIGHT if args.weight is None else args.weight,
        limit=args.limit,
        progress=not args.no_progress,
        command=" ".join(command),
        log=lambda line: print(line, file=sys.stderr),
    )
    metrics = card["metrics"]
    summary = {
        "out": str(out),
        "valid": {k: metrics["valid"][k] for k in ("Q", "weighted_f1", "B")},
        "valid_corrected": {k: metrics["valid_corrected"][k] for k in ("Q", "weighted_f1", "B")},
    }
    print(json.dumps(summary))
    return 0


def cmd_train_correction(args: argparse.Namespace, settings: AttuneSettings) -> int:
    """Fit a planner's logit adjustment on an ESConv file and add it to a corrections file."""
    from strategies.correction import DEFAULT_WEIGHT
    from strategies.data import load_samples
    from strategies.evaluation import run_planner
    from strategies.training import fit_planner_correction

    samples = load_samples(args.data, args.limit)
    if not samples:
        raise InputError("no_samples", f"{args.data}: no supporter turn to fit on")
    planner = _make_planner(settings, args.planner, correct=False, stimulus=None)
    run = run_planner(planner, samples, progress=not args.no_progress)
    out = args.out or settings.paths.state_dir / "planner" / "planner_corrections.json"
    command = ["attune", "train", "correction", "--planner", args.planner]
    command += ["--data", args.data.name, "--out", _display(out)]
    if args.limit:
        command += ["--limit", str(args.limit)]
    _, details = fit_planner_correction(
        [s.gold for s in samples],
        run.probs,
        out,
        planner.name,
        fitted_on=f"{args.data.name}: {len(samples)} samples",
        weight=DEFAULT_WEIGHT if args.weight is None else args.weight,
        command=" ".join(command),
    )
    print(json.dumps({"out": str(out), "planner": planner.name, **details}))
    from strategies.correction import SHIPPED_CORRECTIONS

    shipped = Path(str(resources.files("strategies").joinpath(SHIPPED_CORRECTIONS)))
    configured = settings.planner.correction_path or shipped
    if out.resolve() != Path(configured).resolve():
        print(f"use it with ATTUNE_PLANNER__CORRECTION_PATH={out}", file=sys.stderr)
    return 0
