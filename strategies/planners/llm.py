"""The LLM planner: the agent's language model, asked to name the next strategy.

The prompt (``strategies/data/llm_planner.toml``, written by the project) lists the 8 strategies
with their definitions, then shows the background and the recent dialogue (supporter messages
tagged with the strategy they used) and asks for one strategy name. An optional emotional
stimulus (``planner.stimulus``: ``none``, ``positive`` in the spirit of EmotionPrompt,
``negative`` in the spirit of NegativePrompt) is appended, so its effect on Q and B can be
measured.

The answer is parsed robustly (:func:`parse_strategy`): JSON, a full strategy name or any known
spelling, a list number, then a distinctive keyword; the earliest mention wins. An
answer that names no strategy is **counted** (:attr:`LLMPlanner.unparsed`) and scored as
"Others", the convention of the published preference-bias metric script; the evaluation
reports the count. Decoding is greedy (temperature 0).

Probabilities: the chosen strategy gets :data:`CHOSEN_P`, the others share the rest (one answer
carries no finer information). Use the ``llamacpp`` backend for the bundled SmolLM2-135M
(demo-grade), or any stronger local or OpenAI-compatible model through the ``llm`` settings.
"""

from __future__ import annotations

import json
import re
import threading
import tomllib
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

import jinja2

from modalities.errors import ConfigError
from modalities.types import ChatMessage, GenerationParams
from strategies.base import PlanningContext, StrategyPlanner
from strategies.taxonomy import STRATEGIES, Strategy, normalize_strategy

if TYPE_CHECKING:
    from agent.llm.base import LLM
    from agent.settings import AttuneSettings

Stimulus = Literal["none", "positive", "negative"]
PROMPT_FILE = "data/llm_planner.toml"
#: Probability given to the strategy the LLM names.
CHOSEN_P = 0.86
#: What an unparseable answer counts as (the published metric script's convention).
FALLBACK = Strategy.OTHERS
#: Characters of each dialogue message shown in the prompt.
MESSAGE_CHARS = 300

#: Distinctive word stems, tried when no full strategy name is found.
_KEYWORDS: tuple[tuple[str, Strategy], ...] = (
    ("question", Strategy.QUESTION),
    ("restat", Strategy.RESTATEMENT),
    ("paraphras", Strategy.RESTATEMENT),
    ("reflect", Strategy.REFLECTION),
    ("disclos", Strategy.SELF_DISCLOSURE),
    ("affirm", Strategy.AFFIRMATION),
    ("reassur", Strategy.AFFIRMATION),
    ("suggest", Strategy.SUGGESTIONS),
    ("inform", Strategy.INFORMATION),
    ("other", Strategy.OTHERS),
)
_FULL_NAMES: tuple[tuple[str, Strategy], ...] = tuple(
    sorted(
        [(s.value.lower(), s) for s in STRATEGIES]
        + [
            ("reflection of feeling", Strategy.REFLECTION),
            ("self disclosure", Strategy.SELF_DISCLOSURE),
            ("approval and reassurance", Strategy.AFFIRMATION),
            ("providing suggestion", Strategy.SUGGESTIONS),
            ("providing information", Strategy.INFORMATION),
            ("restatement", Strategy.RESTATEMENT),
            ("paraphrasing", Strategy.RESTATEMENT),
            ("questions", Strategy.QUESTION),
            ("others", Strategy.OTHERS),
        ],
        key=lambda item: -len(item[0]),
    )
)


def _earliest(
    text: str, patterns: Sequence[tuple[str, Strategy]], *, stem: bool
) -> Strategy | None:
    best: tuple[int, int, Strategy] | None = None
    for needle, strategy in patterns:
        tail = r"" if stem else r"\b"
        match = re.search(r"\b" + re.escape(needle) + tail, text)
        if match and (best is None or (match.start(), -len(needle)) < best[:2]):
            best = (match.start(), -len(needle), strategy)
    return best[2] if best else None


def parse_strategy(answer: str) -> Strategy | None:
    """The strategy an LLM answer names, or ``None`` if it names none.

    Tried in order: a JSON object with a ``strategy`` field; a full strategy name or a known
    spelling (the earliest in the text); a list number 1-8 (leading, or "strategy 3"); a
    distinctive keyword
    (``restat``, ``disclos``, ``reassur``... the earliest).
    """
    text = answer.strip()
    if not text:
        return None
    if text.startswith("{"):
        try:
            data = json.loads(text[: text.rindex("}") + 1])
            if isinstance(data, dict) and "strategy" in data:
                return normalize_strategy(str(data["strategy"]))
        except (ValueError, json.JSONDecodeError):
            pass
    plain = re.sub(r"\s+", " ", text.replace("_", " ").replace("*", "")).lower()
    found = _earliest(plain, _FULL_NAMES, stem=False)
    if found is not None:
        return found
    number = re.match(r"^\W*([1-8])(?!\d)", plain) or re.search(
        r"\b(?:strategy|option|number)\s*#?\s*([1-8])(?!\d)", plain
    )
    if number:
        return STRATEGIES[int(number.group(1)) - 1]
    return _earliest(plain, _KEYWORDS, stem=True)


@cache
def _prompt_file() -> dict[str, Any]:
    raw = resources.files("strategies").joinpath(PROMPT_FILE).read_text("utf-8")
    data: dict[str, Any] = tomllib.loads(raw)
    return data


@cache
def _templates() -> tuple[jinja2.Template, jinja2.Template]:
    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True
    )
    data = _prompt_file()
    return env.from_string(data["system"]), env.from_string(data["user"])


def stimulus_text(kind: Stimulus) -> str:
    """The sentence appended for an emotional stimulus (``""`` for ``none``)."""
    stimuli: dict[str, str] = _prompt_file()["stimulus"]
    if kind not in stimuli:
        raise ConfigError(f"unknown stimulus {kind!r}; choose one of {sorted(stimuli)}")
    return stimuli[kind]


def build_messages(
    context: PlanningContext, *, stimulus: Stimulus = "none", context_messages: int = 8
) -> list[ChatMessage]:
    """The system and user messages that ask for the next strategy."""
    dialogue = list(context.dialogue)
    supporter_idx = [i for i, (speaker, _) in enumerate(dialogue) if speaker == "supporter"]
    tags: dict[int, str] = {}
    previous = list(context.previous_strategies)
    if len(previous) == len(supporter_idx):  # strategies align with the supporter's messages
        tags = {i: s.value for i, s in zip(supporter_idx, previous, strict=True)}
    start = max(0, len(dialogue) - context_messages)
    shown = [
        {
            "speaker": "Seeker" if speaker == "seeker" else "Supporter",
            "strategy": tags.get(i, ""),
            "text": _clip(text),
        }
        for i, (speaker, text) in enumerate(dialogue)
        if i >= start
    ]
    system, user = _templates()
    strategies = [
        {"number": n, "name": s.value, "definition": s.definition}
        for n, s in enumerate(STRATEGIES, 1)
    ]
    return [
        ChatMessage(role="system", content=system.render(strategies=strategies).strip()),
        ChatMessage(
            role="user",
            content=user.render(
                background=_clip(context.background() or ""),
                dialogue=shown,
                stimulus=stimulus_text(stimulus),
            ).strip(),
        ),
    ]


def _clip(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1].rstrip() + "…"


def one_hot(strategy: Strategy, p: float = CHOSEN_P) -> dict[Strategy, float]:
    """``p`` for ``strategy``, the rest shared equally by the other 7."""
    rest = (1.0 - p) / (len(STRATEGIES) - 1)
    return {s: (p if s is strategy else rest) for s in STRATEGIES}


class LLMPlanner(StrategyPlanner):
    """Asks an :class:`~agent.llm.base.LLM` for the next strategy (see the module docstring)."""

    name = "llm"

    def __init__(
        self,
        llm: LLM,
        *,
        stimulus: Stimulus = "none",
        context_messages: int = 8,
        constrained: bool = False,
        max_tokens: int = 24,
        seed: int | None = 0,
    ) -> None:
        stimulus_text(stimulus)  # validates
        self.llm = llm
        self.stimulus: Stimulus = stimulus
        self.context_messages = context_messages
        self.constrained = constrained
        self.max_tokens = max_tokens
        self.seed = seed
        #: Answers so far, and how many of them named no strategy.
        self.calls = 0
        self.unparsed = 0
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> StrategyPlanner:
        """Cheap; ``llm=`` shares the agent's LLM, else ``settings.backends.llm`` is created."""
        from strategies.correction import with_correction

        llm = kwargs.pop("llm", None)
        kwargs.pop("embedder", None)  # accepted for a uniform call; not used
        if llm is None:
            from agent import registry

            llm = registry.create("llm", settings.backends.llm, settings)
        planner = cls(
            llm,
            stimulus=kwargs.pop("stimulus", settings.planner.stimulus),
            context_messages=kwargs.pop("context_messages", settings.planner.context_messages),
            constrained=kwargs.pop("constrained", settings.planner.constrained),
            seed=kwargs.pop("seed", settings.seed),
            **kwargs,
        )
        return with_correction(planner, settings)

    def load(self) -> None:
        """Load the LLM now."""
        self.llm.load()

    def params(self) -> GenerationParams:
        """Greedy decoding; a JSON schema over the 8 names when ``constrained`` and supported."""
        schema: dict[str, object] | None = None
        if self.constrained and self.llm.capabilities.json_schema:
            schema = {
                "type": "object",
                "properties": {"strategy": {"enum": [s.value for s in STRATEGIES]}},
                "required": ["strategy"],
            }
        return GenerationParams(
            max_tokens=self.max_tokens, temperature=0.0, seed=self.seed, json_schema=schema
        )

    def answer(self, context: PlanningContext) -> tuple[Strategy | None, str]:
        """The parsed strategy (``None`` if unparseable) and the raw answer; counts both."""
        messages = build_messages(
            context, stimulus=self.stimulus, context_messages=self.context_messages
        )
        raw = self.llm.generate(messages, self.params())
        strategy = parse_strategy(raw)
        with self._lock:
            self.calls += 1
            if strategy is None:
                self.unparsed += 1
        return strategy, raw

    def predict_proba(self, context: PlanningContext) -> dict[Strategy, float]:
        """:data:`CHOSEN_P` on the strategy the LLM names (on "Others" if it names none)."""
        strategy, _ = self.answer(context)
        return one_hot(strategy if strategy is not None else FALLBACK)
