"""Care and safety commands: ``attune eval safety``, ``attune train safety`` and
``attune sessions list|forget|prune``.

Importing this module stays cheap (argparse only); handlers import what they need.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from attune.commands import write_json
from attune.errors import InputError


def register(groups: Any) -> None:
    """Add the commands to the ``attune`` parser (see ``attune.commands.CommandGroups``)."""
    ev = groups.eval.add_parser("safety", help="crisis detection on a labelled JSONL set")
    ev.add_argument(
        "--data",
        type=Path,
        help='JSONL lines {"text", "crisis", "category"} (default: the shipped evaluation set)',
    )
    ev.add_argument(
        "--conversations",
        type=Path,
        help="ESConv dialogues (split JSONL or ESConv.json): every seeker message with the "
        "dialogue before it; rates per tier and category, flagged messages listed for review",
    )
    ev.add_argument(
        "--review",
        type=Path,
        help="with --conversations: hand verdicts by dialogue and turn (JSONL; default: the "
        "shipped review of ESConv valid when that file is the one evaluated)",
    )
    ev.add_argument(
        "--show-text",
        action="store_true",
        help="with --conversations: print each flagged message's text on stderr for review "
        "(the JSON never holds it)",
    )
    ev.add_argument("--json", type=Path, dest="json_out", help="write the full metrics here")
    ev.set_defaults(handler=cmd_eval_safety)

    tr = groups.train.add_parser(
        "safety", help="fit the crisis classifier on the example bank (reproduces the shipped one)"
    )
    tr.add_argument(
        "--out",
        type=Path,
        help="where to write the .npz (default: STATE_DIR/artifacts/safety_classifier.npz; "
        "agent/safety/data/classifier_minilm.npz replaces the shipped one)",
    )
    tr.add_argument(
        "--goemotions",
        type=Path,
        help="GoEmotions train.tsv, the real-text negatives (default: DATA_DIR/goemotions)",
    )
    tr.add_argument(
        "--esconv",
        type=Path,
        help="ESConv train.jsonl, whose seeker messages are the conversational negatives "
        "(default: DATA_DIR/esconv/train.jsonl; the classifier is then CC BY-NC 4.0)",
    )
    tr.add_argument(
        "--no-esconv",
        action="store_true",
        help="leave ESConv out: an Apache-2.0 classifier (bank + GoEmotions), with more false "
        "alarms in conversation (see the closing figures in docs/ARCHITECTURE.md)",
    )
    tr.add_argument(
        "--tuned",
        action="store_true",
        help="fine-tune MiniLM end to end with LoRA adapters instead (agent/safety/tuned.py; "
        "default out: STATE_DIR/artifacts/safety_lora_minilm.npz; resumable)",
    )
    tr.set_defaults(handler=cmd_train_safety)

    sessions = groups.top.add_parser(
        "sessions", help="list, forget or expire stored conversations"
    ).add_subparsers(title="action")
    ls = sessions.add_parser("list", help="stored sessions, most recent first")
    ls.add_argument("--json", action="store_true", help="one JSON array on stdout")
    ls.set_defaults(handler=cmd_sessions_list)
    forget = sessions.add_parser("forget", help="delete one session's conversation completely")
    forget.add_argument("session_id", metavar="ID")
    forget.set_defaults(handler=cmd_sessions_forget)
    prune = sessions.add_parser("prune", help="delete sessions older than the retention setting")
    prune.add_argument(
        "--days", type=float, help="override safety.retention_days (0 keeps everything)"
    )
    prune.set_defaults(handler=cmd_sessions_prune)


def cmd_eval_safety(args: argparse.Namespace, settings: Any) -> int:
    """Evaluate the crisis detector; print the summary, write the full metrics with --json."""
    from agent.safety.detector import EVAL_PATH, CrisisDetector
    from agent.safety.evaluation import evaluate_safety
    from attune import registry

    embedder = registry.create("embedder", settings.backends.embedder, settings)
    detector = CrisisDetector.from_settings(settings, embedder)
    if args.conversations is not None:
        metrics = _eval_conversations(args, detector)
    else:
        data = args.data or EVAL_PATH
        if not data.is_file():
            raise InputError("not_found", f"data file not found: {data}")
        metrics = evaluate_safety(detector, data)
        keys = (
            "n", "direct_crisis_recall", "indirect_caught", "concern_caught", "crisis_precision",
            "recall", "false_positive_rate", "concern_rate_none", "per_category_recall",
        )  # fmt: skip
        print(json.dumps({k: metrics[k] for k in keys}))
    if args.json_out:
        write_json(args.json_out, metrics)
    return 0


def _eval_conversations(args: argparse.Namespace, detector: Any) -> dict[str, Any]:
    from agent.safety.evaluation import REVIEW_PATH, evaluate_conversations

    path: Path = args.conversations
    if not path.is_file():
        raise InputError("not_found", f"conversations file not found: {path}")
    review = args.review
    if review is None and path.name == "valid.jsonl" and path.parent.name == "esconv":
        review = REVIEW_PATH
    if review is not None and not review.is_file():
        raise InputError("not_found", f"review file not found: {review}")
    metrics = evaluate_conversations(detector, path, review=review, with_text=args.show_text)
    for row in metrics["flagged"]:
        text = row.pop("text", None)
        if args.show_text:
            verdict = row.get("verdict", "unreviewed")
            print(
                f"{row['dialogue']}/{row['turn']}\t{row['tier']}\t{row['category']}\t"
                f"[{verdict}]\t{row['reason']}\t{text}",
                file=sys.stderr,
            )
    keys = ("n_dialogues", "n_messages", "per_tier", "rate_per_tier", "per_category", "review")
    print(json.dumps({k: metrics[k] for k in keys if k in metrics}))
    return metrics


def cmd_train_safety(args: argparse.Namespace, settings: Any) -> int:
    """Fit the classifier with the hyper-parameter search and write it."""
    from agent.safety.detector import PROBE_TEXTS, bank_digest, train_from_bank
    from attune import registry

    embedder = registry.create("embedder", settings.backends.embedder, settings)
    negatives = args.goemotions or settings.paths.data_dir / "goemotions" / "train.tsv"
    if not negatives.is_file():
        raise InputError("not_found", f"GoEmotions train file not found: {negatives}")
    conversations = None
    if not args.no_esconv:
        conversations = args.esconv or settings.paths.data_dir / "esconv" / "train.jsonl"
        if not conversations.is_file():
            raise InputError("not_found", f"ESConv train file not found: {conversations}")
    if args.tuned:
        return _train_tuned(args, settings, negatives, conversations)
    classifier = train_from_bank(
        embedder,
        negatives=negatives,
        conversations=conversations,
        cache_dir=settings.paths.state_dir / "cache",
    )
    out = args.out or settings.paths.state_dir / "artifacts" / "safety_classifier.npz"
    out.parent.mkdir(parents=True, exist_ok=True)
    classifier.save(out, bank_sha256=bank_digest(), probe=embedder.embed(list(PROBE_TEXTS)))
    print(json.dumps(_summary(out, classifier)))
    return 0


def _train_tuned(
    args: argparse.Namespace, settings: Any, negatives: Path, conversations: Any
) -> int:
    """``attune train safety --tuned``: the LoRA fine-tune, checkpointed in the state dir."""
    from agent.safety.detector import bank_digest
    from agent.safety.tuned import (
        base_fingerprint,
        encoder_dir,
        train_tuned,
        tuned_training_set,
    )

    texts, labels, corpus, covered = tuned_training_set(negatives, conversations)
    checkpoint = settings.paths.state_dir / "cache" / f"safety_tuned_{bank_digest()[:12]}.pt"
    tuned = train_tuned(
        texts,
        labels,
        corpus,
        covered=covered,
        checkpoint=checkpoint,
        progress=lambda message: print(message, file=sys.stderr, flush=True),
    )
    if conversations is not None:
        from agent.safety.tuned import calibrate_on_conversations

        print("calibrating on real seeker messages", file=sys.stderr, flush=True)
        calibrate_on_conversations(tuned, conversations)
    tuned.cv["licence"] = "CC BY-NC 4.0" if conversations is not None else "Apache-2.0"
    out = args.out or settings.paths.state_dir / "artifacts" / "safety_lora_minilm.npz"
    out.parent.mkdir(parents=True, exist_ok=True)
    tuned.save(out, bank_sha256=bank_digest(), base_sha256=base_fingerprint(encoder_dir()))
    print(json.dumps(_summary(out, tuned)))
    return 0


def _summary(out: Path, classifier: Any) -> dict[str, Any]:
    """What a training run prints: where it wrote, the thresholds, the held-out figures."""
    return {
        "out": str(out),
        "concern_threshold": round(classifier.concern_threshold, 4),
        "crisis_thresholds": {k: round(v, 4) for k, v in classifier.crisis_thresholds.items()},
        "cv": classifier.cv,
    }


def _open_store(settings: Any) -> Any:
    from agent.sessions import open_sqlite_store

    return open_sqlite_store(settings.paths.session_db_path())


def cmd_sessions_list(args: argparse.Namespace, settings: Any) -> int:
    """Print the stored sessions (ids, last update, message counts; never their content)."""
    from agent.privacy import list_sessions

    if not settings.paths.session_db_path().is_file():
        infos = []
    else:
        store = _open_store(settings)
        try:
            infos = list_sessions(store)
        finally:
            store.conn.close()
    if args.json:
        print(json.dumps([i.model_dump() for i in infos]))
    elif not infos:
        print("no stored sessions", file=sys.stderr)
    for info in infos if not args.json else []:
        print(f"{info.session_id}\t{info.updated_at or '-'}\t{info.messages} messages")
    return 0


def cmd_sessions_forget(args: argparse.Namespace, settings: Any) -> int:
    """Delete one session completely; exit 1 when there was no such session."""
    from agent.core import validate_session_id
    from agent.privacy import forget_session

    session_id = validate_session_id(args.session_id)
    if not settings.paths.session_db_path().is_file():
        print(f"no session {session_id}", file=sys.stderr)
        return 1
    store = _open_store(settings)
    try:
        existed = forget_session(store, session_id)
    finally:
        store.conn.close()
    if not existed:
        print(f"no session {session_id}", file=sys.stderr)
        return 1
    print(f"forgot session {session_id}")
    return 0


def cmd_sessions_prune(args: argparse.Namespace, settings: Any) -> int:
    """Delete sessions untouched for longer than the retention period."""
    from agent.privacy import prune_sessions

    days = settings.safety.retention_days if args.days is None else args.days
    if not settings.paths.session_db_path().is_file():
        print(json.dumps({"forgotten": 0, "older_than_days": days}))
        return 0
    store = _open_store(settings)
    try:
        forgotten = prune_sessions(store, days)
    finally:
        store.conn.close()
    print(json.dumps({"forgotten": len(forgotten), "older_than_days": days}))
    return 0
