"""Prompts are data: Jinja templates and a TOML guide in ``agent/prompts/``, rendered strictly."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any

import jinja2

from attune.taxonomy import Strategy


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("agent", "prompts"),
        undefined=jinja2.StrictUndefined,  # a missing variable is an error, never ""
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def template_names() -> list[str]:
    """Every prompt template shipped with Attune."""
    return sorted(n for n in _environment().list_templates() if n.endswith(".j2"))


def render(name: str, **variables: Any) -> str:
    """Render template ``name`` (e.g. ``"respond_system.j2"``); undefined variables raise."""
    return _environment().get_template(name).render(**variables).strip()


@cache
def strategy_guides() -> dict[Strategy, dict[str, Any]]:
    """Per-strategy instructions and worked examples (written by the project, not from ESConv)."""
    raw = resources.files("agent").joinpath("prompts/strategies.toml").read_text("utf-8")
    data = tomllib.loads(raw)
    guides = {Strategy(entry["strategy"]): entry for entry in data["strategy"]}
    missing = set(Strategy) - set(guides)
    if missing:
        raise ValueError(f"strategies.toml lacks guides for: {sorted(missing)}")
    return guides
