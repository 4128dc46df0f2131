"""The ``transformers`` speech-emotion backend: any local audio-classification model directory.

The model (``settings.speech.transformers.model_path``; e.g. a fine-tuned wav2vec2 or HuBERT SER
model saved with ``save_pretrained``, feature extractor included) gives a distribution over its
own labels. Each label is looked up in :data:`LABEL_AFFECT`, a table of the labels common SER
data sets use (IEMOCAP, RAVDESS, CREMA-D, MSP-Podcast), after lower-casing and mapping common
abbreviations (``ang``, ``hap``, ``neu``, ...). Arousal and valence are the probability-weighted
means of the table's values; labels the table does not know count as neutral. ``scores`` keeps
the model's own labels. The prosodic features are computed too (cheap), so the result can feed
the speaker's baseline and explain itself with cues; confidence is the top probability.

torch and transformers are imported only when the model loads; it runs on the configured device.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from attune.errors import ModelNotFoundError
from attune.types import Audio, ProsodyBaseline, SpeechEmotion, Transcript
from modalities.audio import resample
from modalities.speech.base import SpeechEmotionRecognizer
from modalities.speech.prosody import extract_prosody, prosody_emotion

if TYPE_CHECKING:
    from attune.settings import AttuneSettings

logger = logging.getLogger(__name__)

#: (arousal in [0, 1], valence in [-1, 1]) of common speech-emotion labels, after Russell's
#: circumplex placements of the basic emotions.
LABEL_AFFECT: dict[str, tuple[float, float]] = {
    "neutral": (0.45, 0.0),
    "calm": (0.25, 0.3),
    "happy": (0.7, 0.8),
    "sad": (0.25, -0.7),
    "angry": (0.85, -0.7),
    "fear": (0.8, -0.6),
    "disgust": (0.55, -0.6),
    "surprise": (0.8, 0.3),
    "contempt": (0.5, -0.5),
    "frustration": (0.7, -0.5),
    "excited": (0.85, 0.6),
    "bored": (0.15, -0.3),
}
_ALIASES = {
    "neu": "neutral",
    "hap": "happy",
    "happiness": "happy",
    "joy": "happy",
    "sadness": "sad",
    "ang": "angry",
    "anger": "angry",
    "fearful": "fear",
    "fea": "fear",
    "dis": "disgust",
    "disgusted": "disgust",
    "sur": "surprise",
    "surprised": "surprise",
    "fru": "frustration",
    "frustrated": "frustration",
    "exc": "excited",
    "excitement": "excited",
    "boredom": "bored",
}
_NEUTRAL = LABEL_AFFECT["neutral"]


def label_affect(label: str) -> tuple[float, float]:
    """Arousal and valence of a model label (neutral when unknown)."""
    key = label.strip().lower()
    return LABEL_AFFECT.get(_ALIASES.get(key, key), _NEUTRAL)


class TransformersSpeechEmotion(SpeechEmotionRecognizer):
    """Speech emotion from a local transformers audio-classification model.

    Construction is cheap; the model loads on :meth:`load` or first use (thread-safe).
    """

    name = "transformers"

    def __init__(self, model_path: Path | str | None, *, device: str = "cpu") -> None:
        self.model_path = Path(model_path) if model_path is not None else None
        self.device = device
        self._model: Any = None
        self._extractor: Any = None

    @classmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> TransformersSpeechEmotion:
        """The model of ``settings.speech.transformers.model_path`` on the resolved device."""
        model_path = kwargs.get("model_path", settings.speech.transformers.model_path)
        return cls(model_path, device=kwargs.get("device", settings.resolved_device()))

    def _load(self) -> None:
        """The model and its feature extractor."""
        if self.model_path is None or not (self.model_path / "config.json").is_file():
            raise ModelNotFoundError(
                "the transformers speech-emotion backend needs a local audio-classification "
                f"model directory; {self.model_path or 'none'} has no config.json "
                "(set ATTUNE_SPEECH__TRANSFORMERS__MODEL_PATH)"
            )
        from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

        started = time.perf_counter()
        self._extractor = AutoFeatureExtractor.from_pretrained(
            self.model_path, local_files_only=True
        )
        model = AutoModelForAudioClassification.from_pretrained(
            self.model_path, local_files_only=True
        )
        self._model = model.to(self.device).eval()
        logger.info("loaded speech-emotion model in %.2f s", time.perf_counter() - started)

    @property
    def labels(self) -> list[str]:
        """The model's labels, in output order (loads the model)."""
        self.load()
        config = self._model.config
        return [str(config.id2label[i]) for i in range(config.num_labels)]

    def analyze(
        self,
        audio: Audio,
        *,
        transcript: Transcript | None = None,
        baseline: ProsodyBaseline | None = None,
    ) -> SpeechEmotion:
        """The model's label distribution mapped to arousal and valence; the baseline only
        shapes the prosodic cues, the model itself is not normalised per speaker."""
        import torch

        self.load()
        rate = int(getattr(self._extractor, "sampling_rate", 16000))
        samples = resample(audio, rate).samples
        inputs = self._extractor(samples, sampling_rate=rate, return_tensors="pt")
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        with torch.inference_mode():
            logits = self._model(**inputs).logits[0]
        probs = torch.softmax(logits.float(), dim=-1).cpu().numpy().astype(np.float64)
        labels = self.labels
        scores = {label: float(p) for label, p in zip(labels, probs, strict=True)}
        affect = np.array([label_affect(label) for label in labels])
        arousal, valence = (probs[:, None] * affect).sum(axis=0)
        prosodic = prosody_emotion(extract_prosody(audio, transcript), baseline)
        return SpeechEmotion(
            arousal=float(np.clip(arousal, 0.0, 1.0)),
            valence=float(np.clip(valence, -1.0, 1.0)),
            confidence=float(probs.max()),
            scores=scores,
            features=prosodic.features,
            cues=prosodic.cues,
            normalized=False,
            backend=self.name,
        )
