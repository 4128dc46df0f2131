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
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

import jinja2

from attune.errors import ConfigError
from attune.taxonomy import STRATEGIES, Strategy, normalize_strategy
from attune.types import ChatMessage, GenerationParams
from strategies.base import PlanningContext, StrategyPlanner

if TYPE_CHECKING:
    from attune.settings import AttuneSettings
    from modalities.llm.base import LLM
    from strategies.cache import CachedAsker
    from strategies.examples import ExampleIndex

Stimulus = Literal["none", "positive", "negative"]
#: How the planner asks (the methods of the preference-bias study; see :class:`LLMPlanner`).
Method = Literal["direct", "cot", "self-refine", "example", "planner", "positive", "negative"]
METHODS: tuple[Method, ...] = (
    "direct",
    "cot",
    "self-refine",
    "example",
    "planner",
    "positive",
    "negative",
)
PROMPT_FILE = "data/llm_planner.toml"
#: Probability given to the strategy the LLM names.
CHOSEN_P = 0.86
#: What an unparseable answer counts as (the published metric script's convention).
FALLBACK = Strategy.OTHERS
#: Characters of each dialogue message shown in the prompt.
MESSAGE_CHARS = 300
#: Characters of each in-context example's seeker text (method ``example``).
EXAMPLE_CHARS = 200
#: In-context examples (``example``) and planner suggestions (``planner``) shown.
EXAMPLES = 4
HINTS = 3

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


def method_spec(method: Method) -> dict[str, Any]:
    """The ``[method.NAME]`` table of the prompt file (``positive`` and ``negative`` are
    ``direct`` with a stimulus)."""
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; choose one of {list(METHODS)}")
    name = "direct" if method in ("positive", "negative") else method
    spec: dict[str, Any] = _prompt_file()["method"][name]
    return spec


def build_messages(
    context: PlanningContext,
    *,
    stimulus: Stimulus = "none",
    context_messages: int = 8,
    method: Method = "direct",
    examples: Sequence[tuple[str, Strategy]] = (),
    hint: Sequence[tuple[Strategy, float]] = (),
    notes: str = "",
) -> list[ChatMessage]:
    """The system and user messages that ask for the next strategy.

    ``method`` picks the answer rule and the question (``direct``: one strategy name);
    ``examples`` (seeker text, strategy) are shown as in-context examples, ``notes`` (the
    model's own reasoning, method ``cot``) after the dialogue and ``hint`` (strategy,
    probability) as a planner's suggestion, when given.
    """
    spec = method_spec(method)
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
        ChatMessage(
            role="system",
            content=system.render(strategies=strategies, answer_rule=spec["answer_rule"]).strip(),
        ),
        ChatMessage(
            role="user",
            content=user.render(
                background=_clip(context.background() or ""),
                examples=[
                    {"text": _clip(text, EXAMPLE_CHARS), "strategy": s.value}
                    for text, s in examples
                ],
                dialogue=shown,
                notes=_clip(notes, MESSAGE_CHARS),
                hint=[{"name": s.value, "p": p} for s, p in hint],
                question=spec["question"],
                stimulus=stimulus_text(stimulus),
            ).strip(),
        ),
    ]


def critique_message(first: str) -> ChatMessage:
    """The self-refine turn that asks the model to check and revise its first answer."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    template = env.from_string(method_spec("self-refine")["critique"])
    return ChatMessage(role="user", content=template.render(first=_clip(first, 80)))


def parse_final_strategy(answer: str) -> Strategy | None:
    """The strategy a reasoned answer ends on: what follows its last ``Strategy:`` (or
    ``Final strategy:``) marker, else its last line that names one; ``None`` if neither does.

    Reasoning mentions strategies on the way, so the earliest mention (:func:`parse_strategy`)
    would read the reasoning, not the answer.
    """
    markers = list(re.finditer(r"strateg(?:y|ies)\s*[:=\-]", answer, flags=re.IGNORECASE))
    if markers:
        found = parse_strategy(answer[markers[-1].end() :])
        if found is not None:
            return found
    for line in reversed([x for x in answer.splitlines() if x.strip()]):
        found = parse_strategy(line)
        if found is not None:
            return found
    return None


def _clip(text: str, limit: int = MESSAGE_CHARS) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def one_hot(strategy: Strategy, p: float = CHOSEN_P) -> dict[Strategy, float]:
    """``p`` for ``strategy``, the rest shared equally by the other 7."""
    rest = (1.0 - p) / (len(STRATEGIES) - 1)
    return {s: (p if s is strategy else rest) for s in STRATEGIES}


@dataclass(frozen=True)
class PlannerAnswer:
    """One decision of the LLM planner: the strategy (``None``: no answer named one) and the
    raw answers, one per LLM call (``self-refine`` makes two)."""

    strategy: Strategy | None
    answers: tuple[str, ...]


class LLMPlanner(StrategyPlanner):
    """Asks an :class:`~modalities.llm.base.LLM` for the next strategy (see the module docstring).

    ``method`` is how it asks (the methods of the preference-bias study, each a template of
    ``strategies/data/llm_planner.toml``):

    * ``direct``: one strategy name (the agent's planner);
    * ``cot``: two steps, as zero-shot chain of thought does: the model first reasons in a
      couple of sentences about the seeker's emotion and the stage of the conversation, then
      the ``direct`` question is asked again with that reasoning shown as notes;
    * ``self-refine``: the ``direct`` answer, then a second turn where the model checks it
      against the last message and the stage and ends with ``Final strategy: NAME``; if that
      names none, the first answer stands (unparsed only when neither names a strategy);
    * ``example``: the :data:`EXAMPLES` most similar supporter turns of the training split with
      their strategies, as in-context examples (``examples``, a
      :class:`~strategies.examples.ExampleIndex`);
    * ``planner``: external assistance, the ``advisor`` planner's top :data:`HINTS`
      strategies and probabilities given as a hint;
    * ``positive`` / ``negative``: ``direct`` with the emotional stimulus of that name.

    ``asker`` (a :class:`~strategies.cache.CachedAsker`) routes every call through an answer
    cache and a rate limit; :meth:`decide` then takes a ``sample`` key.
    """

    name = "llm"

    def __init__(
        self,
        llm: LLM,
        *,
        stimulus: Stimulus = "none",
        context_messages: int = 8,
        constrained: bool = False,
        max_tokens: int | None = None,
        seed: int | None = 0,
        method: Method = "direct",
        examples: ExampleIndex | None = None,
        advisor: StrategyPlanner | None = None,
        asker: CachedAsker | None = None,
    ) -> None:
        stimulus_text(stimulus)  # validates
        spec = method_spec(method)
        if method in ("positive", "negative"):
            if stimulus not in ("none", method):
                raise ConfigError(f"method {method!r} and stimulus {stimulus!r} disagree")
            stimulus = method
        if method == "example" and examples is None:
            raise ConfigError("method 'example' needs an example index (examples=)")
        if method == "planner" and advisor is None:
            raise ConfigError("method 'planner' needs an advisor planner (advisor=)")
        self.llm = llm
        self.method: Method = method
        self.stimulus: Stimulus = stimulus
        self.context_messages = context_messages
        self.constrained = constrained
        self.max_tokens = max_tokens if max_tokens is not None else int(spec["max_tokens"])
        self.seed = seed
        self.examples = examples
        self.advisor = advisor
        self.asker = asker
        #: Decisions so far, and how many of them named no strategy.
        self.calls = 0
        self.unparsed = 0
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> StrategyPlanner:
        """Cheap. ``llm=`` is the LLM it asks (the registry creates ``settings.backends.llm``
        when the caller gives none: ``registry.create("strategy_planner", "llm", settings)``)."""
        from strategies.correction import with_correction

        llm = kwargs.pop("llm", None)
        kwargs.pop("embedder", None)  # accepted for a uniform call; not used
        if llm is None:
            raise ConfigError(
                "the llm planner is given the LLM it asks: from_settings(settings, llm=...), "
                "or attune.registry.create('strategy_planner', 'llm', settings)"
            )
        planner = cls(
            llm,
            stimulus=kwargs.pop("stimulus", settings.planner.stimulus),
            context_messages=kwargs.pop("context_messages", settings.planner.context_messages),
            constrained=kwargs.pop("constrained", settings.planner.constrained),
            seed=kwargs.pop("seed", settings.seed),
            **kwargs,
        )
        return with_correction(planner, settings)

    def _load(self) -> None:
        """The LLM (and the advisor planner)."""
        self.llm.load()
        if self.advisor is not None:
            self.advisor.load()

    def params(self, max_tokens: int | None = None) -> GenerationParams:
        """Greedy decoding; a JSON schema over the 8 names when ``constrained`` and supported
        (``direct`` and the stimuli only: the other methods answer in sentences)."""
        schema: dict[str, object] | None = None
        one_name = self.method in ("direct", "positive", "negative", "example", "planner")
        if self.constrained and one_name and self.llm.capabilities.json_schema:
            schema = {
                "type": "object",
                "properties": {"strategy": {"enum": [s.value for s in STRATEGIES]}},
                "required": ["strategy"],
            }
        return GenerationParams(
            max_tokens=max_tokens or self.max_tokens,
            temperature=0.0,
            seed=self.seed,
            json_schema=schema,
        )

    def messages(self, context: PlanningContext) -> list[ChatMessage]:
        """The first (for most methods the only) request of this method for ``context``."""
        examples: list[tuple[str, Strategy]] = []
        hint: list[tuple[Strategy, float]] = []
        if self.method == "example" and self.examples is not None:
            examples = self.examples.nearest(context, EXAMPLES)
        if self.method == "planner" and self.advisor is not None:
            probs = self.advisor.predict_proba(context)
            ranked = sorted(STRATEGIES, key=lambda s: (-probs[s], STRATEGIES.index(s)))
            hint = [(s, float(probs[s])) for s in ranked[:HINTS]]
        first_method: Method = "direct" if self.method == "self-refine" else self.method
        return build_messages(
            context,
            stimulus=self.stimulus,
            context_messages=self.context_messages,
            method=first_method,
            examples=examples,
            hint=hint,
        )

    def _ask(
        self, messages: list[ChatMessage], params: GenerationParams, step: str, sample: str | None
    ) -> str:
        if self.asker is not None:
            return self.asker.generate(messages, params, method=step, sample=sample)
        return self.llm.generate(messages, params)

    def decide(self, context: PlanningContext, sample: str | None = None) -> PlannerAnswer:
        """Ask (through the cache when an ``asker`` and a ``sample`` key are given); counts."""
        messages = self.messages(context)
        if self.method == "self-refine":
            # the first step is exactly the direct request, so a study shares its answers
            first = self._ask(messages, self.params(), "direct", sample)
            revise = [*messages, ChatMessage(role="assistant", content=first)]
            revise.append(critique_message(first))
            tokens = int(method_spec("self-refine")["critique_max_tokens"])
            second = self._ask(revise, self.params(tokens), "self-refine", sample)
            strategy = parse_final_strategy(second) or parse_strategy(first)
            answers: tuple[str, ...] = (first, second)
        elif self.method == "cot":
            reasoning = self._ask(messages, self.params(), "cot", sample)
            extract = build_messages(
                context,
                context_messages=self.context_messages,
                notes=reasoning,
            )
            tokens = int(method_spec("direct")["max_tokens"])
            raw = self._ask(extract, self.params(tokens), "cot-answer", sample)
            strategy = parse_strategy(raw)
            answers = (reasoning, raw)
        else:
            raw = self._ask(messages, self.params(), self.method, sample)
            strategy = parse_strategy(raw)
            answers = (raw,)
        with self._lock:
            self.calls += 1
            if strategy is None:
                self.unparsed += 1
        return PlannerAnswer(strategy, answers)

    def answer(self, context: PlanningContext) -> tuple[Strategy | None, str]:
        """The parsed strategy (``None`` if unparseable) and the (last) raw answer; counts."""
        decision = self.decide(context)
        return decision.strategy, decision.answers[-1]

    def predict_proba(self, context: PlanningContext) -> dict[Strategy, float]:
        """:data:`CHOSEN_P` on the strategy the LLM names (on "Others" if it names none)."""
        strategy, _ = self.answer(context)
        return one_hot(strategy if strategy is not None else FALLBACK)
