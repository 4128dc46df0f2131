"""Loaders for ESConv dialogues and strategy-prediction files, and the evaluation samples.

Three file shapes are read:

* the split JSON Lines published with ESConv (``../shared/data/esconv/train.jsonl``): one
  dialogue per line, turns ``{"text", "speaker": "usr" | "sys", "strategy"}``;
* the original single-file release (``ESConv.json``): a JSON list of dialogues, turns
  ``{"content", "speaker": "seeker" | "supporter", "annotation": {"strategy"}}``;
  (either turn shape is accepted in either container, so a JSON Lines file of original-shaped
  dialogues also loads);
* a predictions file, the format published with the preference-bias paper (Kang et al., ACL
  2024): a JSON list of objects with ``strg_gold`` and ``strg_pred`` and, optionally,
  ``context``, ``situation``, ``emotion_type``, ``problem_type``.

Every problem is a :class:`DataFormatError` whose message starts with ``file:line:``: a
malformed JSON line, an unknown strategy label (through :func:`normalize_strategy`), a missing
field, an empty file. Messages name fields and labels, never the dialogue text.

An *evaluation sample* is every supporter turn that comes after the first seeker utterance of a
dialogue; its input is the background (emotion type, problem type, situation) and the dialogue
before it, with the strategies the supporter used so far (see :func:`evaluation_samples`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from attune.errors import InputError
from attune.taxonomy import Strategy, normalize_strategy
from strategies.base import PlanningContext

Speaker = Literal["seeker", "supporter"]

#: Speaker spellings of the two releases.
_SPEAKERS: dict[str, Speaker] = {
    "usr": "seeker",
    "seeker": "seeker",
    "sys": "supporter",
    "supporter": "supporter",
}

#: Names of the three conversation stages (thirds of a dialogue), in order.
STAGES: tuple[str, ...] = ("exploration", "comforting", "action")


class DataFormatError(InputError):
    """A data file that cannot be read as ESConv; the message starts with ``file:line:``."""

    def __init__(self, path: Path | str, line: int, message: str) -> None:
        super().__init__("bad_data", f"{path}:{line}: {message}")
        self.path = Path(path)
        self.line = line


@dataclass(frozen=True)
class Turn:
    """One utterance of a dialogue; ``strategy`` is set on supporter turns only."""

    speaker: Speaker
    text: str
    strategy: Strategy | None = None


@dataclass(frozen=True)
class Dialogue:
    """One ESConv conversation with its background."""

    turns: tuple[Turn, ...]
    emotion_type: str | None = None
    problem_type: str | None = None
    situation: str | None = None
    #: Where it came from, ``file:line`` (for messages).
    source: str = ""


@dataclass(frozen=True)
class Sample:
    """One supporter turn to predict: the planner's input and the annotated strategy."""

    context: PlanningContext
    gold: Strategy
    #: 0, 1 or 2: which third of the dialogue the turn falls in (see :data:`STAGES`).
    stage: int
    #: Index of the dialogue in its file and of the turn in the dialogue (0-based).
    dialogue_index: int
    turn_index: int


@dataclass(frozen=True)
class Prediction:
    """One row of a predictions file."""

    gold: Strategy
    pred: Strategy
    context: str | None = None
    situation: str | None = None
    emotion_type: str | None = None
    problem_type: str | None = None
    #: The line of the file where the row starts.
    line: int = 0
    #: Which dialogue of its data file the turn is from, and its stage (0-2), when the file
    #: says (``attune study bias`` writes both; the paper's released file has neither).
    dialogue_index: int | None = None
    stage: int | None = None


# --- reading JSON with line numbers ----------------------------------------------------------


def _read_text(path: Path) -> str:
    path = Path(path)
    if not path.is_file():
        raise InputError("not_found", f"data file not found: {path}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise DataFormatError(path, line, "not UTF-8 text") from None


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _json_array_items(path: Path, text: str) -> Iterator[tuple[Any, int, int]]:
    """Yield ``(item, start, end)`` offsets for each element of the JSON array in ``text``.

    Decodes element by element so that every item's line is known.
    """
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    length = len(text)
    expect_item = True
    while True:
        while pos < length and text[pos] in " \t\r\n":
            pos += 1
        if pos >= length:
            raise DataFormatError(path, _line_of(text, pos), "malformed JSON: unterminated list")
        char = text[pos]
        if char == "]":
            rest = text[pos + 1 :].strip()
            if rest:
                offset = pos + 1 + text[pos + 1 :].index(rest[0])
                raise DataFormatError(
                    path, _line_of(text, offset), "malformed JSON: extra data after the list"
                )
            return
        if char == ",":
            if expect_item:
                raise DataFormatError(path, _line_of(text, pos), "malformed JSON: stray ','")
            expect_item = True
            pos += 1
            continue
        if not expect_item:
            raise DataFormatError(path, _line_of(text, pos), "malformed JSON: expected ',' or ']'")
        try:
            item, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise DataFormatError(path, exc.lineno, f"malformed JSON: {exc.msg}") from None
        yield item, pos, end
        pos, expect_item = end, False


def _records(path: Path) -> Iterator[tuple[Any, int, str]]:
    """Each top-level record of a JSON Lines or JSON-list file.

    Yields ``(record, line, source)``: the line where it starts and its source text (used to
    point at the line of a bad value inside a multi-line record).
    Raises :class:`DataFormatError` for an empty file or malformed JSON.
    """
    text = _read_text(path)
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped:
        raise DataFormatError(path, 1, "empty file: expected ESConv dialogues (JSON or JSON Lines)")
    count = 0
    if stripped.startswith("["):
        for item, start, end in _json_array_items(path, text):
            count += 1
            yield item, _line_of(text, start), text[start:end]
    else:
        for line_no, line in enumerate(text.splitlines(keepends=True), 1):
            if line.strip():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataFormatError(
                        path, line_no, f"malformed JSON line: {exc.msg}"
                    ) from None
                count += 1
                yield record, line_no, line
    if count == 0:
        raise DataFormatError(path, 1, "empty file: the list holds no records")


def _value_line(source: str, first_line: int, value: object) -> int:
    """The line of the first occurrence of ``value`` (as JSON) in a record's ``source``.

    ``first_line`` (the record's own line) when it cannot be found.
    """
    if not isinstance(value, str):
        return first_line
    for needle in (json.dumps(value, ensure_ascii=False), json.dumps(value)):
        found = source.find(needle)
        if found >= 0:
            return first_line + source.count("\n", 0, found)
    return first_line


def _optional_str(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


# --- dialogues -------------------------------------------------------------------------------


def _parse_turn(path: Path, record_line: int, source: str, index: int, raw: object) -> Turn:
    where = f"turn {index}"
    if not isinstance(raw, dict):
        raise DataFormatError(path, record_line, f"{where} is not a JSON object")
    speaker_raw = raw.get("speaker")
    speaker = _SPEAKERS.get(str(speaker_raw).strip().lower()) if speaker_raw is not None else None
    if speaker is None:
        line = _value_line(source, record_line, speaker_raw)
        expected = "usr/sys or seeker/supporter"
        raise DataFormatError(
            path, line, f"{where}: unknown speaker {speaker_raw!r} (expected {expected})"
        )
    content = raw.get("text", raw.get("content"))
    if not isinstance(content, str):
        raise DataFormatError(path, record_line, f"{where}: no 'text' or 'content' string")
    if speaker == "seeker":
        return Turn("seeker", content)
    label = raw.get("strategy")
    if label is None and isinstance(raw.get("annotation"), dict):
        label = raw["annotation"].get("strategy")
    if label is None:
        raise DataFormatError(path, record_line, f"{where}: supporter turn without a strategy")
    try:
        strategy = normalize_strategy(label)
    except ValueError as exc:
        raise DataFormatError(path, _value_line(source, record_line, label), str(exc)) from None
    return Turn("supporter", content, strategy)


def _parse_dialogue(path: Path, record: object, line: int, source: str) -> Dialogue:
    if not isinstance(record, dict):
        raise DataFormatError(path, line, "not an ESConv dialogue (expected a JSON object)")
    if "strg_gold" in record and "dialog" not in record:
        hint = "read it with load_predictions or `attune eval bias`"
        raise DataFormatError(path, line, f"a predictions file (strg_gold/strg_pred): {hint}")
    turns_raw = record.get("dialog")
    if not isinstance(turns_raw, list):
        raise DataFormatError(path, line, "not an ESConv dialogue: no 'dialog' list")
    turns = tuple(_parse_turn(path, line, source, i, t) for i, t in enumerate(turns_raw))
    return Dialogue(
        turns=turns,
        emotion_type=_optional_str(record.get("emotion_type")),
        problem_type=_optional_str(record.get("problem_type")),
        situation=_optional_str(record.get("situation")),
        source=f"{path}:{line}",
    )


def load_dialogues(path: Path | str) -> list[Dialogue]:
    """Read an ESConv file: the split JSON Lines or the original single-file JSON list.

    Raises :class:`DataFormatError` (``file:line: ...``) for malformed JSON, an unknown strategy
    label or speaker, a missing field, or an empty file; ``InputError`` if the file is missing.
    """
    path = Path(path)
    return [_parse_dialogue(path, rec, line, source) for rec, line, source in _records(path)]


# --- evaluation samples ----------------------------------------------------------------------


def stage_of(turn_index: int, n_turns: int) -> int:
    """Which third of a dialogue of ``n_turns`` turns the turn at ``turn_index`` falls in.

    0 = exploration, 1 = comforting, 2 = action: ``floor(3 * index / n_turns)``.
    """
    if n_turns <= 0:
        return 0
    return min(2, max(0, (3 * turn_index) // n_turns))


def dialogue_samples(dialogue: Dialogue, dialogue_index: int = 0) -> list[Sample]:
    """The evaluation samples of one dialogue, in order (see the module docstring)."""
    samples: list[Sample] = []
    seen_seeker = False
    history: list[tuple[str, str]] = []
    strategies: list[Strategy] = []
    n = len(dialogue.turns)
    for index, turn in enumerate(dialogue.turns):
        if turn.speaker == "supporter" and turn.strategy is not None:
            if seen_seeker:
                context = PlanningContext(
                    dialogue=tuple(history),
                    previous_strategies=tuple(strategies),
                    situation=dialogue.situation,
                    emotion_type=dialogue.emotion_type,
                    problem_type=dialogue.problem_type,
                )
                samples.append(
                    Sample(context, turn.strategy, stage_of(index, n), dialogue_index, index)
                )
            strategies.append(turn.strategy)
        else:
            seen_seeker = True
        history.append((turn.speaker, turn.text))
    return samples


def evaluation_samples(dialogues: Sequence[Dialogue]) -> list[Sample]:
    """Every evaluation sample of ``dialogues``, dialogue by dialogue, turn by turn."""
    out: list[Sample] = []
    for index, dialogue in enumerate(dialogues):
        out.extend(dialogue_samples(dialogue, index))
    return out


def load_samples(path: Path | str, limit: int | None = None) -> list[Sample]:
    """The evaluation samples of an ESConv file (either format), the first ``limit`` if given."""
    samples = evaluation_samples(load_dialogues(path))
    return samples[:limit] if limit is not None else samples


# --- predictions -----------------------------------------------------------------------------


def load_predictions(path: Path | str) -> list[Prediction]:
    """Read a predictions file: a JSON list (or JSON Lines) of ``strg_gold``/``strg_pred`` rows.

    Labels go through :func:`normalize_strategy`, so an unknown or unparsed prediction is an error
    naming the file and line (the published metric script also refuses such files).
    """
    path = Path(path)
    rows: list[Prediction] = []
    for record, line, source in _records(path):
        if not isinstance(record, dict):
            raise DataFormatError(path, line, "not a prediction (expected a JSON object)")
        labels: dict[str, Strategy] = {}
        for key in ("strg_gold", "strg_pred"):
            if key not in record:
                raise DataFormatError(path, line, f"missing field {key!r}")
            value = record[key]
            try:
                labels[key] = normalize_strategy(value)
            except ValueError as exc:
                bad_line = _value_line(source, line, value)
                raise DataFormatError(path, bad_line, f"{key}: {exc}") from None
        rows.append(
            Prediction(
                gold=labels["strg_gold"],
                pred=labels["strg_pred"],
                context=_optional_str(record.get("context")),
                situation=_optional_str(record.get("situation")),
                emotion_type=_optional_str(record.get("emotion_type")),
                problem_type=_optional_str(record.get("problem_type")),
                line=line,
                dialogue_index=_optional_int(record.get("dialogue_index")),
                stage=STAGES.index(record["stage"]) if record.get("stage") in STAGES else None,
            )
        )
    return rows


def _optional_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
