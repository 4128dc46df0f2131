"""Reply commands: ``attune eval replies``, ``attune train replies``, ``attune train adherence``.

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
        "replies", help="replies to ESConv seekers through the real graph, against the supporters'"
    )
    ev.add_argument(
        "--data", type=Path, help="ESConv dialogues (default: DATA_DIR/esconv/valid.jsonl)"
    )
    ev.add_argument("--limit", type=int, help="only the first N supporter turns")
    ev.add_argument(
        "--gold-strategy",
        action="store_true",
        help="impose the annotated strategy on each turn (the oracle setting)",
    )
    ev.add_argument("--json", type=Path, dest="json_out", help="write the report here")
    ev.add_argument(
        "--samples", type=Path, help="write readable transcripts (Markdown, quotes ESConv)"
    )
    ev.add_argument(
        "--samples-n", type=int, default=20, help="how many turns --samples keeps (default 20)"
    )
    ev.set_defaults(handler=cmd_eval_replies)

    tr = groups.train.add_parser(
        "replies", help="fit the reply LoRA adapter on ESConv train (resumable; CC BY-NC 4.0)"
    )
    tr.add_argument(
        "--data", type=Path, help="ESConv train dialogues (default: DATA_DIR/esconv/train.jsonl)"
    )
    tr.add_argument(
        "--out",
        type=Path,
        help="adapter GGUF (default: STATE_DIR/artifacts/replies-lora.gguf; "
        "modalities/llm/data/replies-lora.gguf replaces the shipped one)",
    )
    tr.add_argument("--epochs", type=float, default=0.6, help="passes over the data (0.6)")
    tr.add_argument("--limit", type=int, help="only the first N training examples (smoke runs)")
    tr.add_argument("--max-minutes", type=float, help="stop (checkpointed) after this long")
    tr.set_defaults(handler=cmd_train_replies)

    ad = groups.train.add_parser(
        "adherence", help="fit the reply-strategy classifier on ESConv train (CC BY-NC 4.0)"
    )
    ad.add_argument("--out", type=Path, help="default: STATE_DIR/artifacts/adherence_minilm.npz")
    ad.set_defaults(handler=cmd_train_adherence)


def cmd_eval_replies(args: argparse.Namespace, settings: Any) -> int:
    """Run the evaluation and print the report as one JSON line."""
    from langgraph.checkpoint.memory import InMemorySaver

    from agent import Attune
    from agent.sessions import checkpoint_serializer
    from agent.tuning.evaluation import load_examples, run_turns, score_outcomes, write_samples
    from strategies.adherence import StrategyClassifier

    data = esconv_file(args.data, settings, "valid")
    examples = load_examples(data, args.limit)
    if not examples:
        raise InputError("empty", f"no supporter turns answering a seeker in {data}")

    def progress(done: int, total: int) -> None:
        if done % 25 == 0 or done == total:
            print(f"{done}/{total} turns", file=sys.stderr, flush=True)

    with Attune(settings, checkpointer=InMemorySaver(serde=checkpoint_serializer())) as attune:
        attune.load()
        outcomes = run_turns(attune, examples, gold_strategy=args.gold_strategy, progress=progress)
        classifier = StrategyClassifier.load(attune.context.embedder)
        report = score_outcomes(outcomes, classifier)
        llm = attune.context.llm
        report["setup"] = {
            "data": data.name,
            "gold_strategy": args.gold_strategy,
            "llm": llm.name,
            "adapter": getattr(getattr(llm, "adapter", None), "name", None),
            "reply_prompt": settings.llm.reply_prompt,
            "candidates": settings.llm.candidates,
            "temperature": settings.llm.temperature,
            "repeat_penalty": settings.llm.repeat_penalty,
            "llm_appraisal": settings.llm.llm_appraisal,
            "planner": settings.backends.strategy_planner,
        }
    if args.samples:
        write_samples(args.samples, outcomes[: args.samples_n])
    if args.json_out:
        write_json(args.json_out, report)
    print(json.dumps(report))
    return 0


def cmd_train_replies(args: argparse.Namespace, settings: Any) -> int:
    """Train (or resume) the reply adapter; writes it when the run is complete."""
    from agent.tuning.lora import TrainConfig
    from agent.tuning.train import train_replies

    data = esconv_file(args.data, settings, "train")
    out = args.out or settings.paths.state_dir / "artifacts" / "replies-lora.gguf"
    result = train_replies(
        data,
        settings.paths.state_dir / "tuning" / "replies",
        out,
        TrainConfig(
            epochs=args.epochs,
            threads=settings.llm.threads,
            extra={"limit": args.limit} if args.limit else {},
        ),
        max_seconds=args.max_minutes * 60 if args.max_minutes else None,
        limit=args.limit,
    )
    print(json.dumps(result))
    return 0 if result["done"] else 3


def cmd_train_adherence(args: argparse.Namespace, settings: Any) -> int:
    """Fit the reply-strategy classifier and print its accuracy on valid."""
    from attune import registry
    from strategies.adherence import train_adherence

    embedder = registry.create("embedder", settings.backends.embedder, settings)
    classifier, report = train_adherence(
        embedder, esconv_file(None, settings, "train"), esconv_file(None, settings, "valid")
    )
    out = args.out or settings.paths.state_dir / "artifacts" / "adherence_minilm.npz"
    classifier.save(out)
    print(json.dumps({"out": str(out), **report}))
    return 0
