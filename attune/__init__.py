"""Attune's two ends: the vocabulary at the bottom, the command line and the benchmarks on top.

The bottom layer, which imports nothing else of the project: :mod:`attune.types` (the data every
layer exchanges), :mod:`attune.errors`, :mod:`attune.settings`, :mod:`attune.registry` (named
backends, imported only when created) and :mod:`attune.taxonomy` (the 8 ESConv strategies). On
top, above the server: :mod:`attune.cli`, :mod:`attune.commands` and :mod:`attune.bench` (the
benchmarks and the fakes they run with). The layers between are ``modalities`` and
``strategies`` (backends), ``agent`` (the graph and the public API, ``from agent import Attune``)
and ``server``; ``make lint`` enforces the order (``[tool.importlinter]`` in pyproject.toml).

This module imports nothing, so that importing the vocabulary never pulls in the command line.
"""
