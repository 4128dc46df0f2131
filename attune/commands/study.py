"""``attune study bias``: the preference-bias study (planners x methods x models) in one run.

Importing this module stays cheap (argparse only); handlers import what they need.

Models are **settings profiles**: ``--profile NAME=FILE.toml`` (a settings file, e.g. one whose
``[backends] llm = "openai"`` points at a server), or ``--profile bundled`` (the bundled
SmolLM2-135M-Instruct, without the reply adapter: that adapter is trained to write supporter
replies, not to name strategies) or ``--profile bundled-lora`` (with it). Without ``--profile``
the study runs on ``bundled`` when the loaded settings use the bundled model, else on the loaded
settings (``default``).

Everything is written under ``--out``: ``study.json`` (every cell's metrics with 95 % bootstrap
intervals over dialogues, the paired tests of each method against ``direct``, the cache counts),
``table.md`` (the same as tables), ``predictions/CELL.json`` (each cell in the released format
of the preference-bias paper, which its own script scores), ``preferences.png`` and
``q_vs_b.png``. ``--replies N`` adds, per LLM cell, how often the reply Attune writes (as the
loaded settings configure it) for the chosen strategy enacts that strategy, over the first ``N``
turns (:mod:`agent.study_replies`). ``--predictions FILE...`` scores existing predictions files
instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attune.commands import esconv_file, write_json
from attune.errors import InputError

if TYPE_CHECKING:
    from attune.commands import CommandGroups
    from attune.settings import AttuneSettings
    from strategies.cache import AnswerCache, RateLimiter
    from strategies.study import CellRun

#: Planners without an LLM that a study can include as reference columns.
PLAIN_PLANNERS = ("prior", "prior+correct", "trained", "trained+correct")


def register(groups: CommandGroups) -> None:
    """Add ``attune study bias``."""
    from strategies.planners.llm import METHODS

    study = groups.top.add_parser("study", help="research studies").add_subparsers(title="what")
    bias = study.add_parser(
        "bias",
        help="the preference-bias study: planners x methods x models, with confidence intervals",
    )
    bias.add_argument("--data", type=Path, help="ESConv file (split JSONL or JSON)")
    bias.add_argument("--limit", type=int, help="only the first N evaluation turns")
    bias.add_argument(
        "--methods",
        default=",".join(METHODS),
        help=f"llm planner methods, comma-separated (default: all: {','.join(METHODS)})",
    )
    bias.add_argument(
        "--planners",
        default="llm",
        help=f"llm and/or reference planners: {', '.join(PLAIN_PLANNERS)} (default: llm)",
    )
    bias.add_argument(
        "--profile",
        action="append",
        default=[],
        metavar="NAME[=FILE.toml]",
        help="a model: bundled, bundled-lora, or NAME=settings file (repeatable)",
    )
    bias.add_argument("--train", type=Path, help="train file for the example method")
    bias.add_argument("--out", type=Path, help="output folder (default: state_dir/study/NAME)")
    bias.add_argument("--cache", type=Path, help="answer cache (default: state_dir/cache/...)")
    bias.add_argument("--no-cache", action="store_true", help="ask every answer again")
    bias.add_argument("--concurrency", type=int, default=1, help="LLM requests in flight")
    bias.add_argument("--rate", type=float, help="at most this many LLM requests per second")
    bias.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates")
    bias.add_argument("--rounds", type=int, default=2000, help="randomisation-test rounds")
    bias.add_argument(
        "--replies",
        type=int,
        metavar="N",
        help="also write replies for the first N turns and measure adherence to the choice",
    )
    bias.add_argument(
        "--predictions",
        type=Path,
        nargs="+",
        help="score these predictions files (released format) instead of running planners",
    )
    bias.add_argument("--no-plots", action="store_true")
    bias.add_argument("--no-progress", action="store_true")
    bias.set_defaults(handler=cmd_study_bias)


# --- profiles ---------------------------------------------------------------------------------


def _profiles(specs: list[str], settings: AttuneSettings) -> dict[str, AttuneSettings]:
    from attune.settings import load_settings

    def bundled(adapter: str) -> AttuneSettings:
        llm = settings.llm.model_copy(update={"model_path": None, "adapter": adapter})
        backends = settings.backends.model_copy(update={"llm": "llamacpp"})
        return settings.model_copy(update={"llm": llm, "backends": backends})

    if not specs:
        uses_bundled = settings.backends.llm == "llamacpp" and settings.llm.model_path is None
        return {"bundled": bundled("none")} if uses_bundled else {"default": settings}
    out: dict[str, AttuneSettings] = {}
    for spec in specs:
        name, _, path = spec.partition("=")
        name = name.strip()
        if not name or not all(c.isalnum() or c in "-_." for c in name):
            raise InputError("bad_profile", f"profile name {name!r}: use letters, digits, - _ .")
        if name in out:
            raise InputError("bad_profile", f"profile {name!r} given twice")
        if path:
            out[name] = load_settings(Path(path))
        elif name == "bundled":
            out[name] = bundled("none")
        elif name == "bundled-lora":
            out[name] = bundled("bundled")
        else:
            raise InputError(
                "bad_profile", f"profile {name!r}: give a settings file, NAME=FILE.toml"
            )
    return out


def model_identity(settings: AttuneSettings) -> str:
    """What identifies the answering model in the cache: backend, model and adapter."""
    backend = settings.backends.llm
    if backend == "openai":
        from modalities.llm.openai_compat import redact_url

        return f"openai|{redact_url(settings.llm.openai.base_url)}|{settings.llm.openai.model}"
    if backend in ("llamacpp", "transformers"):
        from modalities.llm.models import adapter_file, resolve_gguf_path

        model: Path | None = settings.llm.model_path
        if backend == "llamacpp" or model is None:
            model = resolve_gguf_path(model)
        size = model.stat().st_size if model.is_file() else 0
        adapter = adapter_file(settings.llm) if backend == "llamacpp" else None
        tag = f"{adapter.name}:{adapter.stat().st_size}" if adapter is not None else "none"
        return f"{backend}|{model.name}:{size}|adapter={tag}|ctx={settings.llm.context_size}"
    return f"{backend}|{settings.llm.model_path}"


# --- handler ----------------------------------------------------------------------------------


def _split(value: str) -> list[str]:
    return [x.strip() for x in value.split(",") if x.strip()]


def cmd_study_bias(args: argparse.Namespace, settings: AttuneSettings) -> int:
    """Run the study (or score ``--predictions``) and write its report."""
    if args.predictions:
        return _score_predictions(args, settings)
    if args.data is None:
        raise InputError("bad_arguments", "give --data (an ESConv file) or --predictions")
    from strategies.planners.llm import METHODS

    methods = _split(args.methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise InputError("bad_method", f"unknown methods {unknown}; choose from {list(METHODS)}")
    planners = _split(args.planners)
    bad = [p for p in planners if p != "llm" and p not in PLAIN_PLANNERS]
    if bad:
        raise InputError(
            "bad_planner", f"unknown planners {bad}; choose llm or {list(PLAIN_PLANNERS)}"
        )
    if args.limit is not None and args.limit < 1:
        raise InputError("bad_limit", "--limit must be at least 1")
    if args.concurrency < 1:
        raise InputError("bad_concurrency", "--concurrency must be at least 1")
    from strategies.cache import AnswerCache, RateLimiter
    from strategies.data import load_samples

    samples = load_samples(args.data, args.limit)
    if not samples:
        raise InputError("no_samples", f"{args.data}: no supporter turn to evaluate")
    profiles = _profiles(args.profile, settings) if "llm" in planners else {}
    out: Path = args.out or settings.paths.state_dir / "study" / args.data.stem
    cache = None
    if not args.no_cache:
        cache = AnswerCache(args.cache or settings.paths.state_dir / "cache" / "study.sqlite")
    limiter = RateLimiter(args.rate)
    try:
        runs = _run_cells(args, settings, samples, planners, methods, profiles, cache, limiter)
        report = _report(args, runs, profiles)
        if args.replies:
            report["replies"] = _replies(args, settings, runs, cache)
    finally:
        if cache is not None:
            cache.close()
    title = f"Strategy-bias study: {report['data']}, {report['turns']} turns"
    _write(out, report, runs, plots=not args.no_plots, title=title)
    asked = sum(r.asked for r in runs)
    cached = sum(r.cached for r in runs)
    print(f"LLM answers: {asked} asked, {cached} from the cache")
    print(f"wrote {out}/study.json, table.md, predictions/")
    return 0


def _run_cells(
    args: argparse.Namespace,
    settings: AttuneSettings,
    samples: list[Any],
    planners: list[str],
    methods: list[str],
    profiles: dict[str, AttuneSettings],
    cache: AnswerCache | None,
    limiter: RateLimiter,
) -> list[CellRun]:
    from attune import registry
    from attune.commands.strategies import _make_planner
    from strategies.cache import CachedAsker
    from strategies.planners.llm import LLMPlanner
    from strategies.study import Cell, run_cell

    source = args.data.name
    runs: list[CellRun] = []

    def progress_bar(label: str) -> Any:
        if args.no_progress:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=len(samples), desc=label, unit="turn", file=sys.stderr)

    def run(cell: Cell, planner: Any) -> None:
        bar = progress_bar(cell.label)
        try:
            result = run_cell(
                cell,
                planner,
                samples,
                source=source,
                concurrency=args.concurrency,
                progress=bar.update if bar is not None else None,
            )
        finally:
            if bar is not None:
                bar.close()
        runs.append(result)

    for name in planners:
        if name == "llm":
            continue
        base, _, correct = name.partition("+")
        run(Cell("-", name), _make_planner(settings, base, correct=bool(correct), stimulus=None))

    if "llm" not in planners:
        return runs
    embedder = None
    examples = None
    advisor = None
    if "example" in methods or "planner" in methods:
        embedder = registry.create("embedder", settings.backends.embedder, settings)
    if "example" in methods:
        from strategies.examples import ExampleIndex

        train = esconv_file(args.train, settings, "train")
        assert embedder is not None
        examples = ExampleIndex.build(
            train, embedder.embed, cache_dir=settings.paths.state_dir / "cache"
        )
    if "planner" in methods:
        # the agent's default planner: the trained one with its bias correction
        advisor = _make_planner(settings, "trained", correct=True, stimulus=None)
    for profile, profile_settings in profiles.items():
        llm = registry.create("llm", profile_settings.backends.llm, profile_settings)
        try:
            asker = CachedAsker(llm, model_identity(profile_settings), cache, limiter)
            for method in methods:
                planner = LLMPlanner(
                    llm,
                    method=method,  # type: ignore[arg-type]
                    context_messages=profile_settings.planner.context_messages,
                    constrained=profile_settings.planner.constrained,
                    seed=profile_settings.seed,
                    examples=examples if method == "example" else None,
                    advisor=advisor if method == "planner" else None,
                    asker=asker,
                )
                run(Cell(profile, "llm", method), planner)
        finally:
            llm.close()
    return runs


def _report(
    args: argparse.Namespace, runs: list[CellRun], profiles: dict[str, AttuneSettings]
) -> dict[str, Any]:
    from strategies.stats import paired_test
    from strategies.study import clustered, score_cell

    scores = [score_cell(r, replicates=args.bootstrap, seed=0) for r in runs]
    paired = []
    for run in runs:
        if run.cell.planner != "llm" or run.cell.method == "direct":
            continue
        reference = next(
            (
                r
                for r in runs
                if r.cell.profile == run.cell.profile
                and r.cell.planner == "llm"
                and r.cell.method == "direct"
            ),
            None,
        )
        if reference is None:
            continue
        test = paired_test(
            clustered(run),
            clustered(reference),
            replicates=args.bootstrap,
            rounds=args.rounds,
            seed=0,
        )
        paired.append({"cell": run.cell.label, "against": reference.cell.label, **test})
    return {
        "data": args.data.name,
        "limit": args.limit,
        "turns": len(runs[0].samples) if runs else 0,
        "dialogues": len({s.dialogue_index for s in runs[0].samples}) if runs else 0,
        "profiles": {name: model_identity(s) for name, s in profiles.items()},
        "cells": scores,
        "paired": paired,
        "bootstrap": {"replicates": args.bootstrap, "unit": "dialogue", "interval": 0.95},
    }


def _replies(
    args: argparse.Namespace,
    settings: AttuneSettings,
    runs: list[CellRun],
    cache: AnswerCache | None,
) -> list[dict[str, Any]]:
    """Adherence of the replies to each LLM cell's choices. The replies are written by the
    agent as configured (the loaded settings, not the planning profile), the same generator
    for every cell, so only the chosen strategy differs between cells."""
    from agent.study_replies import reply_adherence

    cells = [r for r in runs if r.cell.planner == "llm"]
    if not cells:
        return []
    return reply_adherence(
        settings,
        cells,
        data=args.data,
        limit=args.replies,
        model_id=model_identity(settings),
        cache=cache,
        progress=not args.no_progress,
        replicates=args.bootstrap,
    )


def _tables(report: dict[str, Any], *, title: str, against: str) -> str:
    """The report as Markdown tables: the cells, their preferences, the paired tests, the
    replies' adherence (``table.md``, and what the command prints)."""
    from strategies.study import markdown_table, paired_table, preference_table

    text = [
        f"# {title}",
        "",
        "95 % bootstrap intervals over dialogues in brackets.",
        "",
        markdown_table(report["cells"]),
        "",
        "## Preference per strategy (p > 1: preferred)",
        "",
        preference_table(report["cells"]),
    ]
    if report.get("paired"):
        text += ["", f"## Paired tests against {against}", "", paired_table(report["paired"])]
    if report.get("replies"):
        from strategies.study import replies_table

        text += [
            "",
            "## Replies: adherence to the chosen strategy",
            "",
            replies_table(report["replies"]),
        ]
    return "\n".join(text)


def _write(
    out: Path,
    report: dict[str, Any],
    runs: list[CellRun],
    *,
    plots: bool,
    title: str,
    against: str = "direct",
) -> None:
    from strategies.study import released_rows

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "study.json", report)
    for run in runs:
        write_json(out / "predictions" / f"{run.cell.slug}.json", released_rows(run))
    text = _tables(report, title=title, against=against)
    (out / "table.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    if plots and report["cells"]:
        from strategies.evaluation import plot_q_vs_b, plot_study_preferences

        plot_study_preferences(report["cells"], out / "preferences.png")
        plot_q_vs_b(report["cells"], out / "q_vs_b.png")


def _score_predictions(args: argparse.Namespace, settings: AttuneSettings) -> int:
    """Score predictions files: metrics with intervals, and paired tests against the first."""
    from strategies.data import load_predictions
    from strategies.metrics import evaluate
    from strategies.stats import bootstrap, cluster, paired_test

    del settings
    scores = []
    paired = []
    clusters = []
    for path in args.predictions:
        rows = load_predictions(path)
        if not rows:
            raise InputError("no_samples", f"{path}: no predictions")
        if all(r.dialogue_index is not None for r in rows):
            groups: list[Any] = [r.dialogue_index for r in rows]
            unit = "dialogue"
        elif all(r.situation for r in rows):
            groups = [(r.situation, r.problem_type, r.emotion_type) for r in rows]
            unit = "situation (one ESConv dialogue each)"
        else:
            groups = list(range(len(rows)))
            unit = "row"
        stages = [r.stage for r in rows] if all(r.stage is not None for r in rows) else None
        gold = [r.gold for r in rows]
        pred = [r.pred for r in rows]
        report = evaluate(gold, pred, stages)  # type: ignore[arg-type]
        data = cluster(gold, pred, groups, stages)  # type: ignore[arg-type]
        clusters.append(data)
        scores.append(
            {
                "cell": path.name,
                **report.to_dict(),
                "ci": bootstrap(data, replicates=args.bootstrap, seed=0),
                "unit": unit,
            }
        )
    first = clusters[0]
    for path, data in zip(args.predictions[1:], clusters[1:], strict=True):
        try:
            test = paired_test(data, first, replicates=args.bootstrap, rounds=args.rounds, seed=0)
        except ValueError:
            print(
                f"note: {path.name} is not over the same turns as the first file", file=sys.stderr
            )
            continue
        paired.append({"cell": path.name, "against": args.predictions[0].name, **test})
    report_all = {
        "predictions": [str(p) for p in args.predictions],
        "cells": scores,
        "paired": paired,
        "bootstrap": {"replicates": args.bootstrap, "interval": 0.95},
    }
    title = "Scored predictions: " + ", ".join(p.name for p in args.predictions)
    against = f"the first file ({args.predictions[0].name})"
    out: Path | None = args.out
    if out is None:
        print(_tables(report_all, title=title, against=against))
        print(
            json.dumps(
                {
                    s["cell"]: {k: s[k] for k in ("Q", "B")}
                    | {"ci": {k: s["ci"][k] for k in ("Q", "B")}}
                    for s in scores
                }
            )
        )
        return 0
    _write(out, report_all, [], plots=not args.no_plots, title=title, against=against)
    return 0
