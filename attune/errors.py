"""Errors that cross package boundaries. Each carries a clear, user-presentable message.

Messages never contain what the user said or showed: they name sizes, formats and settings.
"""

from __future__ import annotations


class AttuneError(Exception):
    """Base class of every error Attune raises on purpose."""

    code: str = "attune_error"


class InputError(AttuneError, ValueError):
    """The input is unusable (empty, too large, wrong encoding or format); the session survives."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ConfigError(AttuneError):
    """A setting is invalid or names something that does not exist."""

    code = "config_error"


class UnknownBackendError(ConfigError):
    """A backend name that the registry does not know for the role."""

    code = "unknown_backend"

    def __init__(self, role: str, name: str, choices: list[str]) -> None:
        super().__init__(
            f"unknown {role} backend {name!r}; available: {', '.join(sorted(choices)) or 'none'}"
        )
        self.role, self.name, self.choices = role, name, choices


class BackendUnavailableError(ConfigError):
    """A backend whose optional dependency is not installed."""

    code = "backend_unavailable"


class ModelNotFoundError(ConfigError):
    """A model file or directory that a backend needs does not exist or is incomplete."""

    code = "model_not_found"
