"""Errors that cross package boundaries. Each carries a clear, user-presentable message.

Messages never contain what the user said or showed: they name sizes, formats and settings.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Every code an error can carry, on the wire (``error.code``) and in :attr:`AttuneError.code`.

    One list for the whole project: :class:`InputError` refuses a code that is not here, the
    protocol's ``error`` message is typed with it, and the JSON Schema exports it (with the text
    the web pages show for each, ``server/protocol.py: USER_TEXT``), so the pages read the codes
    instead of copying them. ``tests/test_error_codes.py`` finds every literal code in the source.
    """

    # the text of a turn
    EMPTY_TEXT = "empty_text"
    BAD_TEXT = "bad_text"
    TEXT_TOO_LONG = "text_too_long"
    EMPTY_INPUT = "empty_input"
    EMPTY_TURN = "empty_turn"
    # audio
    BAD_AUDIO = "bad_audio"
    BAD_AUDIO_VALUES = "bad_audio_values"
    EMPTY_AUDIO = "empty_audio"
    NO_AUDIO = "no_audio"
    NO_SPEECH = "no_speech"
    NO_SAMPLES = "no_samples"
    AUDIO_TOO_LONG = "audio_too_long"
    MIXED_SAMPLE_RATES = "mixed_sample_rates"
    BAD_ENCODING = "bad_encoding"
    AUDIO_NOT_STARTED = "audio_not_started"
    AUDIO_ALREADY_STARTED = "audio_already_started"
    NOTHING_TO_SPEAK = "nothing_to_speak"
    # images and the face
    BAD_IMAGE = "bad_image"
    EMPTY_IMAGE = "empty_image"
    IMAGE_TOO_LARGE = "image_too_large"
    IMAGE_TOO_SMALL = "image_too_small"
    IMAGE_RATE = "image_rate"
    NO_FACE = "no_face"
    # the avatar
    BAD_STYLE = "bad_style"
    BAD_SIZE = "bad_size"
    BAD_FPS = "bad_fps"
    NO_CUES = "no_cues"
    CUES_MISMATCH = "cues_mismatch"
    CUES_NOT_CONTIGUOUS = "cues_not_contiguous"
    # the protocol and the session
    BAD_JSON = "bad_json"
    BAD_MESSAGE = "bad_message"
    BAD_TYPE = "bad_type"
    UNKNOWN_TYPE = "unknown_type"
    UNSUPPORTED_VERSION = "unsupported_version"
    BAD_SESSION_ID = "bad_session_id"
    NO_SESSION = "no_session"
    SESSION_ALREADY_STARTED = "session_already_started"
    SESSION_EXISTS = "session_exists"
    SESSION_FORBIDDEN = "session_forbidden"
    SESSION_FORGOTTEN = "session_forgotten"
    NOTHING_TO_INTERRUPT = "nothing_to_interrupt"
    QUEUE_FULL = "queue_full"
    RATE_LIMITED = "rate_limited"
    IDLE_TIMEOUT = "idle_timeout"
    INTERNAL_ERROR = "internal_error"
    # the LLM
    GENERATION_ERROR = "generation_error"
    TIMEOUT = "timeout"
    CLOSED = "closed"
    AUTH_FAILED = "auth_failed"
    BACKEND_UNREACHABLE = "backend_unreachable"
    CONTEXT_OVERFLOW = "context_overflow"
    # configuration and backends
    ATTUNE_ERROR = "attune_error"
    CONFIG_ERROR = "config_error"
    UNKNOWN_BACKEND = "unknown_backend"
    BACKEND_UNAVAILABLE = "backend_unavailable"
    MODEL_NOT_FOUND = "model_not_found"
    # the command line and the evaluations
    NOT_FOUND = "not_found"
    EMPTY = "empty"
    BAD_DATA = "bad_data"
    BAD_FORMAT = "bad_format"
    BAD_ARGUMENT = "bad_argument"
    BAD_ARGUMENTS = "bad_arguments"
    BAD_LIMIT = "bad_limit"
    BAD_CONCURRENCY = "bad_concurrency"
    BAD_PROFILE = "bad_profile"
    BAD_METHOD = "bad_method"
    BAD_PLANNER = "bad_planner"
    BAD_ROLE = "bad_role"
    BAD_STRATEGY = "bad_strategy"
    BAD_EMOTION = "bad_emotion"


def error_code(code: str) -> ErrorCode:
    """``code`` as an :class:`ErrorCode`; a ``ValueError`` that says where to add it if it is
    not one (a programming error, found by the tests)."""
    try:
        return ErrorCode(code)
    except ValueError:
        raise ValueError(f"{code!r} is not an attune.errors.ErrorCode: add it there") from None


class AttuneError(Exception):
    """Base class of every error Attune raises on purpose."""

    code: ErrorCode = ErrorCode.ATTUNE_ERROR


class InputError(AttuneError, ValueError):
    """The input is unusable (empty, too large, wrong encoding or format); the session survives."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = error_code(code)


class ConfigError(AttuneError):
    """A setting is invalid or names something that does not exist."""

    code = ErrorCode.CONFIG_ERROR


class UnknownBackendError(ConfigError):
    """A backend name that the registry does not know for the role."""

    code = ErrorCode.UNKNOWN_BACKEND

    def __init__(self, role: str, name: str, choices: list[str]) -> None:
        super().__init__(
            f"unknown {role} backend {name!r}; available: {', '.join(sorted(choices)) or 'none'}"
        )
        self.role, self.name, self.choices = role, name, choices


class BackendUnavailableError(ConfigError):
    """A backend whose optional dependency is not installed."""

    code = ErrorCode.BACKEND_UNAVAILABLE


class ModelNotFoundError(ConfigError):
    """A model file or directory that a backend needs does not exist or is incomplete."""

    code = ErrorCode.MODEL_NOT_FOUND
