"""The locale-keyed table of crisis resources (``data/resources.toml`` by default).

A locale is resolved exactly (``en-GB``, case and ``_``/``-`` insensitive), then by its language
(``en``), then to the table's ``default_locale``. Each locale names its emergency number and the
services for each crisis category; :meth:`LocaleResources.for_category` gives the ones a safe
reply and the ``crisis`` event show.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from attune.errors import ConfigError
from attune.types import CrisisCategory, CrisisResource

#: The table shipped with Attune.
DEFAULT_RESOURCES_PATH = Path(__file__).resolve().parent / "data" / "resources.toml"


class LocaleResources(BaseModel):
    """The resources of one locale."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    locale: str = ""
    label: str
    #: The emergency number as read in a sentence, e.g. ``"911"``.
    emergency: str
    resources: tuple[CrisisResource, ...] = ()

    def for_category(self, category: CrisisCategory) -> tuple[CrisisResource, ...]:
        """The services for ``category`` in table order, then emergency services.

        For a medical emergency the emergency number comes first.
        """
        emergency = CrisisResource(
            name="Emergency services",
            contact=f"call {self.emergency}",
            description="If anyone is in immediate danger.",
        )
        chosen = tuple(r for r in self.resources if not r.categories or category in r.categories)
        if category == "medical_emergency":
            return (emergency, *chosen)
        return (*chosen, emergency)


class ResourceTable(BaseModel):
    """The whole table: a default locale and one entry per locale."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default_locale: str
    locales: dict[str, LocaleResources] = Field(min_length=1)

    def resolve(self, locale: str) -> LocaleResources:
        """The entry for ``locale``: exact, else its language, else the default."""
        by_key = {_normalise(key): key for key in self.locales}
        wanted = _normalise(locale)
        for candidate in (wanted, wanted.split("-")[0], _normalise(self.default_locale)):
            key = by_key.get(candidate)
            if key is not None:
                return self.locales[key].model_copy(update={"locale": key})
        raise ConfigError(
            f"the crisis resources table has no entry for {locale!r} and no default "
            f"({self.default_locale!r}); locales: {sorted(self.locales)}"
        )


def _normalise(locale: str) -> str:
    return locale.strip().replace("_", "-").lower()


@lru_cache(maxsize=8)
def _load_cached(path: Path, mtime_ns: int) -> ResourceTable:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return ResourceTable.model_validate(raw)
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ConfigError(f"invalid crisis resources table {path}: {exc}") from exc


def load_resource_table(path: Path | str | None = None) -> ResourceTable:
    """Read and validate a resources table (the shipped one when ``path`` is ``None``)."""
    resolved = Path(path) if path is not None else DEFAULT_RESOURCES_PATH
    if not resolved.is_file():
        raise ConfigError(f"crisis resources table not found: {resolved}")
    return _load_cached(resolved.resolve(), resolved.stat().st_mtime_ns)


def locale_resources(locale: str, path: Path | str | None = None) -> LocaleResources:
    """The resources for ``locale`` from the table at ``path`` (default: the shipped one)."""
    return load_resource_table(path).resolve(locale)
