"""``make bench`` and ``make device-check``: the benchmarks, on top of every other layer.

:mod:`~attune.bench.text` (text turns, the LLM, the embedder, the safety detector),
:mod:`~attune.bench.media` (voice and face), :mod:`~attune.bench.avatar`,
:mod:`~attune.bench.server` (the websocket server under load, with its canned LLM) and
:mod:`~attune.bench.device` (the GPU paths, run on a lent accelerator). Results are JSON; targets
live here, never in timed test assertions.
"""
