"""Reply metrics as in the ESC papers: BLEU-n, ROUGE-L, Distinct-n, and the share of generic
replies.

Tokenisation: lower case, then words (letters and digits, with an inner apostrophe kept:
"don't" is one token) and each punctuation mark as its own token. BLEU is corpus-level (clipped
n-gram counts summed over the corpus, uniform weights over 1..n, the brevity penalty over total
lengths, no smoothing), with one reference per reply. ROUGE-L is the mean over replies of the
F1 (beta = 1) of LCS precision and recall. Distinct-n is the number of distinct n-grams over
all replies divided by their total. Every score is on a 0-100 scale.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*|[^\sa-z0-9]")
#: A reply said this many times or more in one run counts as generic.
GENERIC_REPEATS = 3


def tokenize(text: str) -> list[str]:
    """Lower-cased words and punctuation marks."""
    return _TOKEN.findall(text.lower().replace("\u2019", "'"))


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str], n: int) -> float:
    """Corpus BLEU-``n`` (0-100) of ``hypotheses`` against one reference each."""
    if len(hypotheses) != len(references):
        raise ValueError("one reference per hypothesis")
    matches = [0] * n
    totals = [0] * n
    hyp_len = ref_len = 0
    for hyp_text, ref_text in zip(hypotheses, references, strict=True):
        hyp, ref = tokenize(hyp_text), tokenize(ref_text)
        hyp_len += len(hyp)
        ref_len += len(ref)
        for k in range(1, n + 1):
            hyp_grams, ref_grams = _ngrams(hyp, k), _ngrams(ref, k)
            matches[k - 1] += sum(min(c, ref_grams[g]) for g, c in hyp_grams.items())
            totals[k - 1] += max(0, len(hyp) - k + 1)
    if hyp_len == 0 or any(m == 0 for m in matches):
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matches, totals, strict=True)) / n
    brevity = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return 100 * brevity * math.exp(log_precision)


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    if not a or not b:
        return 0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(hypothesis: str, reference: str) -> float:
    """ROUGE-L F1 (0-100) of one reply."""
    hyp, ref = tokenize(hypothesis), tokenize(reference)
    lcs = _lcs(hyp, ref)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(hyp), lcs / len(ref)
    return 100 * 2 * precision * recall / (precision + recall)


def distinct(hypotheses: Sequence[str], n: int) -> float:
    """Distinct-``n`` (0-100): distinct n-grams over all replies / all n-grams."""
    grams: Counter[tuple[str, ...]] = Counter()
    for text in hypotheses:
        grams.update(_ngrams(tokenize(text), n))
    total = sum(grams.values())
    return 100 * len(grams) / total if total else 0.0


def generic_share(hypotheses: Sequence[str], repeats: int = GENERIC_REPEATS) -> float:
    """Share (0-1) of replies whose exact wording (tokens) occurs ``repeats`` times or more."""
    keys = [" ".join(tokenize(t)) for t in hypotheses]
    counts = Counter(keys)
    return sum(1 for k in keys if counts[k] >= repeats) / len(keys) if keys else 0.0


def reply_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Every corpus metric of a run, rounded for reports."""
    n = len(hypotheses)
    return {
        "bleu_1": round(corpus_bleu(hypotheses, references, 1), 2),
        "bleu_2": round(corpus_bleu(hypotheses, references, 2), 2),
        "bleu_4": round(corpus_bleu(hypotheses, references, 4), 2),
        "rouge_l": round(
            sum(rouge_l(h, r) for h, r in zip(hypotheses, references, strict=True)) / max(1, n), 2
        ),
        "distinct_1": round(distinct(hypotheses, 1), 2),
        "distinct_2": round(distinct(hypotheses, 2), 2),
        "generic_share": round(generic_share(hypotheses), 4),
        "mean_words": round(sum(len(tokenize(h)) for h in hypotheses) / max(1, n), 1),
    }
