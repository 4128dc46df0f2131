"""The ``attune`` command line: chat, backends, evaluation, training and benchmarks."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO, cast

from pydantic import ValidationError

from attune import registry
from attune.commands import CommandGroups, write_json
from attune.errors import AttuneError, InputError
from attune.settings import AttuneSettings, load_settings

_DIM, _RESET, _BOLD = "\x1b[2m", "\x1b[0m", "\x1b[1m"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``attune`` console script."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # websockets logs every frame at DEBUG, and frames carry what people say: never below INFO
    logging.getLogger("websockets").setLevel(max(logging.INFO, logging.getLogger().level))
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    try:
        settings = load_settings(args.config, **_overrides(args))
        code: int = args.handler(args, settings)
        return code
    except AttuneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        print(f"error: invalid setting: {problems}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `attune backends | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if args.device:
        out["device"] = args.device
    return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attune", description="Attune: an offline, multimodal empathetic chatbot."
    )
    parser.add_argument("--config", type=Path, help="a TOML settings file (or ATTUNE_CONFIG)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where models run")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(title="commands")

    chat = sub.add_parser("chat", help="talk with Attune in the terminal")
    chat.add_argument("--session", help="resume (or name) a session id")
    chat.add_argument("--json", action="store_true", help="one JSON object per turn on stdout")
    chat.add_argument(
        "--voice-in", type=Path, metavar="FILE", help="run one turn from a recorded utterance"
    )
    chat.add_argument(
        "--image", type=Path, metavar="FILE", help="with --voice-in: a photo of the speaker"
    )
    chat.add_argument(
        "--voice-out", type=Path, metavar="FILE", help="with --voice-in: write the spoken reply"
    )
    chat.set_defaults(handler=cmd_chat)

    backends = sub.add_parser("backends", help="list the registered backends per role")
    backends.set_defaults(handler=cmd_backends)

    ev = sub.add_parser("eval", help="evaluation scripts").add_subparsers(title="what")
    ev_emotion = ev.add_parser("emotion", help="text emotion on a GoEmotions-format TSV")
    ev_emotion.add_argument("--data", type=Path, required=True, help="text<TAB>ids<TAB>id file")
    ev_emotion.add_argument("--json", type=Path, dest="json_out", help="write metrics here")
    ev_emotion.add_argument(
        "--backend", choices=registry.names("text_emotion"), help="text_emotion backend"
    )
    ev_emotion.add_argument("--no-progress", action="store_true")
    ev_emotion.set_defaults(handler=cmd_eval_emotion)

    train = sub.add_parser("train", help="reproduce shipped artifacts").add_subparsers(title="what")
    tr_emotion = train.add_parser("emotion", help="train the GoEmotions head over MiniLM")
    tr_emotion.add_argument("--data-dir", type=Path, help="folder with train.tsv and dev.tsv")
    tr_emotion.add_argument("--out", type=Path, help="artifact folder (default: a new folder)")
    tr_emotion.add_argument("--limit", type=int, help="use only the first N training rows")
    tr_emotion.add_argument("--epochs", type=int, help="training epochs")
    tr_emotion.set_defaults(handler=cmd_train_emotion)

    bench = sub.add_parser("bench", help="measure latency, throughput and memory (JSON)")
    bench.add_argument("--turns", type=int, default=20)
    bench.add_argument("--out", type=Path, default=Path("bench/results.json"))
    bench.add_argument(
        "--only",
        default="text,voice,face,avatar,server,soak",
        help="comma-separated parts to run: text, voice, face, avatar, server, soak (default: all)",
    )
    bench.set_defaults(handler=cmd_bench)

    for module_name in COMMAND_MODULES:
        module = importlib.import_module(module_name)
        module.register(CommandGroups(top=sub, eval=ev, train=train))
    return parser


#: Modules that add commands through ``register(groups: CommandGroups)``. Importing them must
#: stay cheap (argparse only); handlers import what they need.
COMMAND_MODULES: list[str] = [
    "attune.commands.safety",
    "attune.commands.replies",
    "attune.commands.appraisal",
    "attune.commands.strategies",
    "attune.commands.study",
    "attune.commands.media",
    "attune.commands.avatar",
    "attune.commands.server",
    "attune.commands.results",
]


# --- chat ------------------------------------------------------------------------------------


def cmd_chat(args: argparse.Namespace, settings: AttuneSettings) -> int:
    """Read messages line by line from stdin and answer each."""
    from agent.core import Attune, new_session_id, validate_session_id

    session_id = validate_session_id(args.session) if args.session else new_session_id()
    if args.voice_in is not None:
        return _voice_turn(args, settings, session_id)
    if args.image is not None or args.voice_out is not None:
        raise InputError("bad_arguments", "--image and --voice-out need --voice-in")
    interactive = sys.stdin.isatty() and not args.json
    color = sys.stdout.isatty() and not os.environ.get("NO_COLOR") and not args.json
    out = sys.stdout
    with Attune(settings) as bot:
        if interactive:
            print(f"{_DIM}Loading models...{_RESET}", file=sys.stderr, flush=True)
        bot.load()
        if interactive:
            resumed = len(bot.history(session_id)) // 2
            note = f" (resumed, {resumed} earlier turns)" if resumed else ""
            print(
                f"Attune is listening. Session {session_id}{note}. "
                "Type /quit to leave.\nNothing you type is logged.",
                file=sys.stderr,
            )
        while True:
            if interactive:
                print(f"{_BOLD if color else ''}you>{_RESET if color else ''} ", end="", flush=True)
            raw = sys.stdin.buffer.readline()
            if not raw:
                break
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                _report(out, args.json, InputError("bad_encoding", "input is not valid UTF-8"))
                continue
            if line.strip() in {"/quit", "/exit"}:
                break
            if not line.strip() and interactive:
                continue
            try:
                _chat_turn(bot, line, session_id, out, args.json, color)
            except InputError as exc:
                _report(out, args.json, exc)
    return 0


def _voice_turn(args: argparse.Namespace, settings: AttuneSettings, session_id: str) -> int:
    """One turn from a recorded utterance (and optionally a photo); the reply is printed and,
    with ``--voice-out``, spoken into a WAV file."""
    from agent.core import Attune
    from modalities.audio import to_wav
    from modalities.voice.base import SpeechChunk, join_chunks

    for path in (args.voice_in, args.image):
        if path is not None and not path.is_file():
            raise InputError("not_found", f"file not found: {path}")
    image = args.image.read_bytes() if args.image is not None else None
    speak = args.voice_out is not None
    chunks: list[SpeechChunk] = []
    result: dict[str, Any] | None = None
    with Attune(settings) as bot:
        for event in bot.stream_turn(
            None, session_id, audio=args.voice_in.read_bytes(), image=image, speak=speak
        ):
            if event.type == "audio.chunk":
                chunks.append(cast(SpeechChunk, event.data["chunk"]))
            elif event.type == "reply.done":
                result = cast(dict[str, Any], event.data["result"])
    assert result is not None
    if speak and chunks:
        args.voice_out.parent.mkdir(parents=True, exist_ok=True)
        args.voice_out.write_bytes(to_wav(join_chunks(chunks)))
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    transcript = (result.get("transcript") or {}).get("text", "").strip()
    print(f"you (heard)> {transcript}")
    print(f"attune> {result['reply']}")
    for line in _explain(result):
        print(f"  {line}")
    return 0


def _chat_turn(
    bot: Any, text: str, session_id: str, out: TextIO, as_json: bool, color: bool
) -> None:
    dim, reset = (_DIM, _RESET) if color else ("", "")
    result = None
    streamed: list[str] = []
    for event in bot.stream_turn(text, session_id):
        if event.type == "reply.delta" and not as_json:
            if not streamed:
                out.write("attune> ")
            streamed.append(str(event.data["text"]))
            out.write(streamed[-1])
            out.flush()
        elif event.type == "reply.done":
            result = event.data["result"]
    assert result is not None
    if as_json:
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        out.flush()
        return
    out.write("\n" if streamed else "")
    if "".join(streamed).strip() != result["reply"]:
        # the cleaned reply is authoritative (a streamed draft may run past its last sentence)
        out.write(f"attune> {result['reply']}\n")
    for line in _explain(result):
        out.write(f"{dim}  {line}{reset}\n")
    out.flush()


def _explain(result: dict[str, Any]) -> list[str]:
    lines = []
    affect = result.get("affect")
    if affect and len(affect.get("confidence", {})) > 1:
        flag = " [mixed signals]" if affect.get("incongruent") else ""
        lines.append(f"affect: {affect['label']}{flag} | {affect['explanation']}")
    emotion = result.get("text_emotion")
    if emotion:
        top = sorted(emotion["scores"].items(), key=lambda kv: kv[1], reverse=True)[:3]
        labels = ", ".join(f"{k} {v:.2f}" for k, v in top)
        lines.append(
            f"emotion: {labels} | valence {emotion['valence']:+.2f} "
            f"arousal {emotion['arousal']:.2f} intensity {emotion['intensity']:.2f}"
        )
    strategy = result.get("strategy")
    if strategy:
        p = strategy["probabilities"][strategy["strategy"]]
        lines.append(f"strategy: {strategy['strategy']} (p={p:.2f}, planner {strategy['planner']})")
    safety = result.get("safety")
    if safety and safety.get("tier", "none") != "none":
        category = str(safety.get("category") or "").replace("_", " ")
        lines.append(f"safety: {safety['tier']} ({category}) | {safety.get('reason', '')}")
    appraisal = result.get("appraisal")
    if appraisal:
        src = appraisal["sources"]
        steps = [f"{k}: {appraisal[k]} [{src.get(k, '?')}]" for k in ("event", "emotion", "cause")]
        steps.append(f"goal: {appraisal['goal']} [{src.get('goal', '?')}]")
        lines.append("appraisal: " + " -> ".join(steps))
    return lines


def _report(out: TextIO, as_json: bool, exc: AttuneError) -> None:
    if as_json:
        out.write(json.dumps({"error": {"code": exc.code, "message": str(exc)}}) + "\n")
        out.flush()
    else:
        print(f"error: {exc}", file=sys.stderr, flush=True)


# --- backends, eval, train, bench ------------------------------------------------------------


def cmd_backends(args: argparse.Namespace, settings: AttuneSettings) -> int:
    """Print each role's backends, marking the configured one."""
    chosen = settings.backends.model_dump()
    for role, table in registry.REGISTRY.items():
        print(f"{role}:")
        for name, spec in sorted(table.items()):
            mark = "*" if chosen.get(role) == name else " "
            extra = f" [attune[{spec.extra}]]" if spec.extra else ""
            absent = registry.missing(spec)
            if absent:
                hint = f"pip install 'attune[{spec.extra}]'" if spec.extra else "pip install"
                extra += f" (not installed: {', '.join(absent)}; {hint})"
            print(f"  {mark} {name:<16} {spec.description}{extra}")
    return 0


def cmd_eval_emotion(args: argparse.Namespace, settings: AttuneSettings) -> int:
    """Evaluate the text-emotion backend on a GoEmotions-format TSV."""
    from modalities.text.evaluation import evaluate_text_emotion

    if not args.data.is_file():
        raise InputError("not_found", f"data file not found: {args.data}")
    name = args.backend or settings.backends.text_emotion
    recognizer = registry.create("text_emotion", name, settings)
    metrics = evaluate_text_emotion(recognizer, args.data, progress=not args.no_progress)
    summary = {k: metrics[k] for k in ("macro_f1", "micro_f1", "n") if k in metrics}
    print(json.dumps(summary))
    if args.json_out:
        write_json(args.json_out, metrics)
    return 0


def cmd_train_emotion(args: argparse.Namespace, settings: AttuneSettings) -> int:
    """Train the GoEmotions head (reproduces modalities/text/artifacts)."""
    from modalities.text.training import train_head

    data_dir = args.data_dir or settings.paths.data_dir / "goemotions"
    train_tsv, dev_tsv = data_dir / "train.tsv", data_dir / "dev.tsv"
    for path in (train_tsv, dev_tsv):
        if not path.is_file():
            raise InputError("not_found", f"data file not found: {path}")
    out = args.out or settings.paths.state_dir / "artifacts"
    kwargs: dict[str, Any] = {"limit": args.limit}
    if args.epochs:
        kwargs["epochs"] = args.epochs
    metrics = train_head(
        train_tsv, dev_tsv, out, cache_dir=settings.paths.state_dir / "cache", **kwargs
    )
    summary = {k: metrics[k] for k in ("macro_f1", "micro_f1", "n") if k in metrics}
    print(json.dumps({"out": str(out), **summary}))
    return 0


def cmd_bench(args: argparse.Namespace, settings: AttuneSettings) -> int:
    """Run the benchmarks (text turns, voice path, face frames) and write their JSON."""
    from attune.bench.text import run_bench

    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    unknown = parts - {"text", "voice", "face", "avatar", "server", "soak"}
    if unknown or not parts:
        raise InputError(
            "bad_arguments", "--only takes a list of: text, voice, face, avatar, server, soak"
        )
    results: dict[str, Any] = {}
    if "text" in parts:
        results["text"] = run_bench(settings, turns=args.turns)
    if "voice" in parts:
        from attune.bench.media import run_voice_bench

        results["voice"] = run_voice_bench(settings, turns=max(5, args.turns // 2))
    if "face" in parts:
        from attune.bench.media import run_face_bench

        results["face"] = run_face_bench(settings)
    if "avatar" in parts:
        from attune.bench.avatar import run_avatar_bench

        results["avatar"] = run_avatar_bench(settings)
    if "server" in parts:
        from attune.bench.server import run_server_bench

        # the server's own overhead (fake LLM, 10 and 50 sessions), then the real stack
        # (10 sessions: every turn of one Attune instance runs in turn, so more only queue)
        results["server"] = {
            "fake_llm": run_server_bench(settings, sessions=(10, 50), seconds=10, fake_llm=True),
            "real": run_server_bench(settings, sessions=(10,), seconds=20),
        }
    if "soak" in parts:
        from attune.bench.server import run_soak_bench

        results["soak"] = run_soak_bench(settings, sessions=20, turns=500)
    write_json(args.out, results)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
