"""The ``llm`` role: chat messages in, streamed text out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from attune.errors import AttuneError, ErrorCode, error_code
from attune.lifecycle import Loadable
from attune.types import ChatMessage, GenerationParams

if TYPE_CHECKING:
    from attune.settings import AttuneSettings


class GenerationError(AttuneError):
    """An LLM call failed: the backend or its server refused, broke or timed out.

    ``code`` narrows it down (``context_overflow``: the prompt does not fit the context window;
    ``backend_unreachable``: the server cannot be reached; ``timeout``: no output in time).
    Messages name sizes, settings and addresses, never what the conversation said.
    """

    code = ErrorCode.GENERATION_ERROR

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = error_code(code)


@dataclass(frozen=True)
class LLMCapabilities:
    """What a backend can do beyond plain streamed generation."""

    #: Honours ``GenerationParams.json_schema`` (constrained decoding).
    json_schema: bool = False
    #: Honours ``GenerationParams.seed`` reproducibly.
    seeded: bool = False
    #: Continues a conversation that ends with an assistant message (the reply so far) instead
    #: of starting a new reply, and honours ``GenerationParams.ignore_eos``.
    continues: bool = False


class LLM(Loadable, ABC):
    """A chat language model. One required method: :meth:`stream`."""

    name: str = "llm"
    capabilities: LLMCapabilities = LLMCapabilities()
    #: Which reply prompt suits this model: ``instruct`` (a general instruction model, given the
    #: strategy's instruction and worked examples) or ``tuned`` (a model trained on the prompt of
    #: :mod:`agent.tuning.format`, given the strategy as a control line).
    reply_prompt: str = "instruct"

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> LLM:
        """Construct cheaply from settings; weights load in :meth:`load` or on first use."""

    def close(self) -> None:
        """Release the model and any server or threads it holds."""

    @abstractmethod
    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Iterator[str]:
        """Generate a reply to ``messages``, yielding text pieces as they are produced."""

    def generate(self, messages: Sequence[ChatMessage], params: GenerationParams) -> str:
        """The whole reply at once."""
        return "".join(self.stream(messages, params))
