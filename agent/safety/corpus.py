"""Hard negatives for the crisis classifier from real emotional text (GoEmotions, ESConv).

GoEmotions' train comments are everyday Reddit talk: sadness, anger, grief, worry, joking. They
teach the classifier what ordinary distress looks like, which the project's short example bank
cannot. Comments that mention anything near a crisis (death, killing, harm, suicide, abuse,
weapons, breathing, pills...) are left out: some of those are genuine crises and would be
wrong labels, and the idioms among them are covered by the bank's hand-labelled hard
negatives. What is left is labelled "none".

ESConv's train seeker messages (:func:`esconv_negatives`), filtered the same way, are the
conversational negatives: long, informal messages about jobs, break-ups, school and loneliness,
the text the detector meets most. A classifier trained on them is CC BY-NC 4.0 like ESConv;
``attune train safety --no-esconv`` fits an Apache-2.0 one without them. Embeddings are cached
under the state dir (keyed by the texts embedded and the embedder's probe vectors) so that
``attune train safety`` re-runs in seconds.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from agent.safety.patterns import literalise, match_patterns, normalise, sentences

if TYPE_CHECKING:
    from modalities.text.base import Embedder

log = logging.getLogger(__name__)

#: A comment or message mentioning any of these is not used as a negative: it might be a real
#: crisis. The list is kept to words that carry the risk itself; everyday words near it ("end",
#: "finish", "live", "goodbye", "safe") stay in, because the negatives must teach the
#: classifier that those are ordinary.
RISK_WORDS = re.compile(
    r"suicid|kill|\bdie\b|\bdied\b|dying|\bdead\b|death|burden|hopeless|disappear|"
    r"hurt (?:my|him|her|them|some)|harm|abus|rape|molest|assault|overdos|pills?\b|tablets|"
    r"cut (?:my|him|her)|cutting|razor|blade|\bnoose|hang (?:my|him)|stab|murder|\bgun\b|"
    r"\bshoot|weapon|poison|chok|strangl|\bbleed|blood|unconscious|not breathing|"
    r"can'?t breathe|heart attack|seizure|stroke\b|better off without|end (?:it|my life)|"
    r"can'?t go on|no point|not worth|worthless|give up on life|want to be gone",
    re.IGNORECASE,
)
#: Longest comment used (characters): long comments are rare and slow to embed.
MAX_CHARS = 300


def goemotions_negatives(path: Path | str, limit: int | None = None) -> list[str]:
    """GoEmotions comments (the TSV's first column) with no crisis-adjacent word, in file order.

    ``limit`` keeps an evenly spaced subset of that many.
    """
    texts = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        text = line.split("\t", 1)[0].strip()
        if not text or len(text) > MAX_CHARS or RISK_WORDS.search(text) or match_patterns(text):
            continue
        texts.append(text)
    if limit is not None and limit < len(texts):
        step = len(texts) / limit
        texts = [texts[int(i * step)] for i in range(limit)]
    return texts


def esconv_negatives(path: Path | str) -> list[str]:
    """ESConv seeker messages (``train.jsonl``) with no crisis-adjacent word, risk indicator or
    crisis pattern, and the sentences of the longer ones: everyday distress in conversation, the
    text the detector meets most. A classifier trained on them inherits ESConv's CC BY-NC 4.0
    licence."""
    from agent.safety.evaluation import load_conversations
    from agent.safety.patterns import match_concern

    texts = []
    for dialogue in load_conversations(path):
        for role, text in dialogue:
            if role != "user" or not text or len(text) > 4 * MAX_CHARS:
                continue
            if RISK_WORDS.search(text) or match_patterns(text) or match_concern(text):
                continue
            texts.append(text)
            # the detector scores each sentence of a message too: the sentences are negatives
            # as well, so the calibration counts the chances a message gives it to fire
            parts = sentences(normalise(text))
            if len(parts) > 1:
                texts.extend(p for p in parts if len(p.split()) >= 3)
    return list(dict.fromkeys(texts))


def embed_cached(
    embedder: Embedder, texts: list[str], cache_dir: Path | None, tag: str, probe: np.ndarray
) -> np.ndarray:
    """``embedder.embed`` of the literalised texts, cached in ``cache_dir`` when given (keyed
    by exactly what is embedded and the embedder's probe vectors, so a change to the filter or
    to the idioms rebuilds it)."""
    read = [literalise(t) for t in texts]
    digest = hashlib.sha256()
    digest.update(probe.astype(np.float32).round(4).tobytes())
    for t in read:
        digest.update(t.encode("utf-8") + b"\0")
    path = cache_dir / f"safety_{tag}_{digest.hexdigest()[:16]}.npy" if cache_dir else None
    if path is not None and path.is_file():
        cached = np.load(path)
        if cached.shape[0] == len(texts):
            return np.asarray(cached)
    vectors = np.asarray(embedder.embed(read), dtype=np.float32)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
    return vectors
