"""13 · A small strategy-bias study: the LLM planner asked two ways, against the trained planner.

Runs the bundled SmolLM2-135M as the ``llm`` planner with the ``direct`` method and with the
``planner`` method (external assistance: the trained planner's top three suggestions shown as a
hint), beside the trained planner with its bias correction, on the first supporter turns of
ESConv's ``valid.jsonl``. Prints Q, weighted-F1 and B with 95 % bootstrap intervals over
dialogues, the paired test of ``planner`` against ``direct``, then runs the LLM cells again to
show that every answer now comes from the cache.

    python demos/13_strategy_bias_study.py [--limit 20]

The full study from the command line (all methods, plots, released-format predictions):
``attune study bias --data ../shared/data/esconv/valid.jsonl --limit 300``.
"""

import argparse
import tempfile
from pathlib import Path

from agent import load_settings
from attune import registry
from strategies.cache import AnswerCache, CachedAsker
from strategies.data import load_samples
from strategies.planners.llm import LLMPlanner
from strategies.stats import paired_test
from strategies.study import (
    Cell,
    clustered,
    markdown_table,
    paired_table,
    run_cell,
    score_cell,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=20, help="supporter turns to evaluate")
    args = parser.parse_args()

    # the bundled model without the reply adapter (that adapter writes replies, it does not plan)
    settings = load_settings(llm={"adapter": "none"})
    data = settings.paths.data_dir / "esconv" / "valid.jsonl"
    samples = load_samples(data, args.limit)
    print(f"{len(samples)} supporter turns from {data.name}")
    embedder = registry.create("embedder", settings.backends.embedder, settings)
    trained = registry.create("strategy_planner", "trained", settings, embedder=embedder)
    llm = registry.create("llm", "llamacpp", settings)

    with tempfile.TemporaryDirectory() as tmp, AnswerCache(Path(tmp) / "answers.sqlite") as cache:
        asker = CachedAsker(llm, "bundled-smollm2-135m", cache)

        def llm_cells() -> list:
            runs = []
            for method in ("direct", "planner"):
                planner = LLMPlanner(llm, method=method, advisor=trained, asker=asker)
                cell = Cell("bundled", "llm", method)
                runs.append(run_cell(cell, planner, samples, source=data.name))
            return runs

        runs = [run_cell(Cell("-", "trained+correct"), trained, samples, source=data.name)]
        runs += llm_cells()
        scores = [score_cell(r, replicates=500) for r in runs]
        print(markdown_table(scores))
        test = paired_test(clustered(runs[2]), clustered(runs[1]), replicates=500, rounds=1000)
        print(
            paired_table([{"cell": "bundled/llm:planner", "against": "bundled/llm:direct", **test}])
        )
        print(f"LLM answers: {asker.asked} asked, {asker.cached} from the cache")

        again = llm_cells()
        print(f"second run: {sum(r.asked for r in again)} asked, {asker.cached} from the cache")
        same = all(a.predictions == b.predictions for a, b in zip(runs[1:], again, strict=True))
        print(f"same predictions from the cache: {same}")
    llm.close()


if __name__ == "__main__":
    main()
