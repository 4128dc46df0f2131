"""The ``openai`` LLM backend: any OpenAI-compatible chat endpoint (vLLM, llama.cpp, Ollama).

Uses the ``openai`` SDK (``pip install 'attune[openai]'``) against ``settings.llm.openai.base_url``.
Requests stream (``stream=True``); closing the stream early closes the HTTP response, which makes
llama.cpp and vLLM cancel the generation. Connection failures and timeouts become a
:class:`~modalities.llm.base.GenerationError` naming the base URL (never the messages); no retries
by default, so an unreachable server fails fast.

``json_schema`` is sent as ``response_format={"type": "json_schema", ...}`` (supported by
llama.cpp's server, vLLM, Ollama and OpenAI). A server that rejects that field is asked again
without it, and that instance stops advertising ``json_schema`` (callers then get free text and
must validate it, which they do anyway). ``seed`` is passed through: llama.cpp and vLLM honour
it; a hosted API may not.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

from attune.types import ChatMessage, GenerationParams
from modalities.llm.base import LLM, GenerationError, LLMCapabilities
from modalities.llm.models import chat_request, safe_server_message

if TYPE_CHECKING:
    from attune.settings import AttuneSettings

log = logging.getLogger(__name__)

#: The connect timeout never exceeds this, so a dead host fails fast even with a long timeout_s.
_CONNECT_TIMEOUT_S = 10.0
_OVERFLOW_HINTS = ("context length", "context size", "context window", "maximum context")


def redact_url(url: str) -> str:
    """``url`` without any ``user:password@`` part, fit for messages and logs."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class OpenAICompatLLM(LLM):
    """A chat model behind an OpenAI-compatible HTTP API (``llm`` backend ``openai``).

    Honours ``max_tokens``, ``temperature``, ``top_p``, ``stop``, ``seed`` and (where the server
    supports structured output) ``json_schema``. The client is created on :meth:`load` or first
    use; nothing is sent until a call. Thread-safe.
    """

    loads_weights = False  # an HTTP client: the weights are the server's

    name = "openai"
    capabilities = LLMCapabilities(json_schema=True, seeded=True)

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080/v1",
        *,
        model: str = "default",
        api_key: SecretStr | str = "not-needed",
        timeout_s: float = 60.0,
        max_retries: int = 0,
    ) -> None:
        """Remember the endpoint; ``timeout_s`` bounds each wait for the server."""
        self.base_url = base_url
        self.model = model
        self._api_key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self._client: Any = None

    @classmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> OpenAICompatLLM:
        """From ``settings.llm`` (base_url, model, api_key, timeout_s)."""
        options: dict[str, Any] = {
            "base_url": settings.llm.openai.base_url,
            "model": settings.llm.openai.model,
            "api_key": settings.llm.openai.api_key,
            "timeout_s": settings.llm.timeout_s,
        }
        options.update(kwargs)
        return cls(**options)

    @property
    def where(self) -> str:
        """The base URL without credentials, as shown in messages."""
        return redact_url(self.base_url)

    def _load(self) -> None:
        """Create the HTTP client (does not contact the server)."""
        import openai

        self._client = openai.OpenAI(
            base_url=self.base_url,
            api_key=self._api_key.get_secret_value() or "not-needed",
            timeout=openai.Timeout(self.timeout_s, connect=min(_CONNECT_TIMEOUT_S, self.timeout_s)),
            max_retries=self.max_retries,
        )

    def _ensure_client(self) -> Any:
        self.load()
        return self._client

    def close(self) -> None:
        """Close the HTTP client (idempotent)."""
        with self._lifecycle_lock():
            client, self._client = self._client, None
            self._forget_load()
        if client is not None:
            client.close()

    def _request(
        self, messages: Sequence[ChatMessage], params: GenerationParams, *, schema: bool
    ) -> dict[str, Any]:
        request = {"model": self.model, **chat_request(messages, params, params.seed)}
        if schema and params.json_schema is not None:
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "attune_output", "schema": params.json_schema},
            }
        return request

    def _error(self, exc: Exception, contents: Sequence[str]) -> GenerationError:
        """The :class:`GenerationError` for an SDK exception; names the URL, never the input."""
        import openai

        where = self.where
        if isinstance(exc, openai.APITimeoutError | TimeoutError) or type(exc).__name__.endswith(
            "Timeout"
        ):
            return GenerationError(
                f"the LLM server at {where} did not answer within {self.timeout_s:g} s "
                "(llm.timeout_s)",
                code="timeout",
            )
        if isinstance(exc, openai.APIConnectionError):
            return GenerationError(
                f"cannot reach the LLM server at {where}: is it running? (llm.openai.base_url)",
                code="backend_unreachable",
            )
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return GenerationError(
                f"the LLM server at {where} refused the API key (HTTP {exc.status_code}): "
                "set llm.openai.api_key (ATTUNE_LLM__OPENAI__API_KEY)",
                code="auth_failed",
            )
        if isinstance(exc, openai.NotFoundError):
            return GenerationError(
                f"the LLM server at {where} answered HTTP 404: check llm.openai.base_url (usually "
                f"ending in /v1) and llm.openai.model ({self.model!r})",
                code="not_found",
            )
        if isinstance(exc, openai.APIStatusError):
            raw = str(getattr(exc, "message", "") or exc)
            if any(hint in raw.lower() for hint in _OVERFLOW_HINTS):
                return GenerationError(
                    f"the prompt does not fit the context of the LLM at {where}: shorten the "
                    "history (chat.history_messages) or use a longer-context model",
                    code="context_overflow",
                )
            return GenerationError(
                f"the LLM server at {where} answered HTTP {exc.status_code}: "
                f"{safe_server_message(raw, contents)}"
            )
        return GenerationError(
            f"the LLM call to {where} failed ({type(exc).__name__}): "
            f"{safe_server_message(str(exc), contents)}"
        )

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Iterator[str]:
        """Yield the reply as the server streams it.

        The request is sent here (so connection errors raise from this call); closing the
        returned generator early closes the connection.
        """
        import openai

        client = self._ensure_client()
        contents = [m.content for m in messages]
        use_schema = params.json_schema is not None and self.capabilities.json_schema
        started = time.perf_counter()
        try:
            try:
                response = client.chat.completions.create(
                    **self._request(messages, params, schema=use_schema)
                )
            except (openai.BadRequestError, openai.UnprocessableEntityError):
                if not use_schema:
                    raise
                # Perhaps the server does not know response_format: ask again without it.
                response = client.chat.completions.create(
                    **self._request(messages, params, schema=False)
                )
                self.capabilities = LLMCapabilities(json_schema=False, seeded=True)
                log.warning(
                    "the LLM server at %s rejected response_format=json_schema; "
                    "continuing without constrained output",
                    self.where,
                )
        except openai.OpenAIError as exc:
            raise self._error(exc, contents) from exc
        return self._pieces(response, contents, started)

    def _pieces(self, response: Any, contents: list[str], started: float) -> Iterator[str]:
        pieces = 0
        try:
            for chunk in response:
                for choice in chunk.choices or ():
                    delta = choice.delta
                    text = getattr(delta, "content", None) if delta is not None else None
                    if text:
                        pieces += 1
                        yield text
        except Exception as exc:  # SDK errors, and the HTTP layer's own (a read timeout)
            raise self._error(exc, contents) from exc
        finally:
            response.close()  # early exit: the server sees the disconnect and stops
        log.debug(
            "openai-compatible: %d pieces from %s in %.2f s",
            pieces,
            self.where,
            time.perf_counter() - started,
        )
