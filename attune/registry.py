"""The registry of named backends, one table per role.

Settings pick a backend by name; the registry imports its module only when it is created, and
turns a missing optional dependency into an actionable message. CLI choices come from these keys.
Adding a backend: write a class with ``from_settings(settings)`` in the role's package and add a
:class:`BackendSpec` line below (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from attune.errors import BackendUnavailableError, ConfigError, UnknownBackendError

if TYPE_CHECKING:
    from attune.settings import AttuneSettings

_OWN_PACKAGES = {"attune", "agent", "modalities", "strategies", "server"}

Role = Literal[
    "embedder",
    "text_emotion",
    "llm",
    "strategy_planner",
    "asr",
    "speech_emotion",
    "tts",
    "face",
    "avatar",
]


@dataclass(frozen=True)
class BackendSpec:
    """Where a backend lives and what it needs."""

    target: str  # "package.module:ClassName"
    description: str
    extra: str | None = None  # the attune[extra] that provides its dependencies
    #: Top-level modules it imports that a default install may lack: ``attune backends`` says
    #: which backends cannot run here (:func:`missing`), without importing them.
    requires: tuple[str, ...] = ()
    #: Roles whose backends it is given (keyword arguments of ``from_settings``): :func:`create`
    #: builds each one the caller does not pass, from ``settings.backends``. A backend never
    #: calls the registry itself.
    needs: tuple[str, ...] = ()


REGISTRY: dict[str, dict[str, BackendSpec]] = {
    "embedder": {
        "minilm": BackendSpec(
            "modalities.text.minilm:MiniLMEmbedder",
            "all-MiniLM-L6-v2 sentence embeddings (bundled, sentence-transformers)",
            requires=("sentence_transformers", "torch"),
        ),
    },
    "text_emotion": {
        "goemotions-head": BackendSpec(
            "modalities.text.emotion_head:GoEmotionsHead",
            "classifier head over MiniLM embeddings trained on GoEmotions (bundled)",
            requires=("torch",),
        ),
        "transformers": BackendSpec(
            "modalities.text.hf_classifier:TransformersTextEmotion",
            "any local transformers sequence-classification model directory",
            requires=("transformers", "torch"),
        ),
    },
    "llm": {
        "llamacpp": BackendSpec(
            "modalities.llm.llamacpp:LlamaCppLLM",
            "llama.cpp in-process (xllamacpp); default: bundled SmolLM2-135M-Instruct GGUF",
            requires=("xllamacpp",),
        ),
        "transformers": BackendSpec(
            "modalities.llm.hf:TransformersLLM",
            "transformers causal LM from a local directory or a GGUF file (cuda when present)",
            extra="gguf",
            requires=("transformers", "torch"),
        ),
        "openai": BackendSpec(
            "modalities.llm.openai_compat:OpenAICompatLLM",
            "any OpenAI-compatible endpoint (vLLM, llama.cpp server, Ollama)",
            extra="openai",
            requires=("openai",),
        ),
    },
    "strategy_planner": {
        "prior": BackendSpec(
            "strategies.planners.prior:PriorPlanner",
            "ESConv strategy frequencies by conversation stage and previous strategy",
        ),
        "trained": BackendSpec(
            "strategies.planners.trained:TrainedPlanner",
            "softmax classifier over MiniLM embeddings of the conversation, trained on ESConv",
            requires=("sentence_transformers", "torch"),
            needs=("embedder",),
        ),
        "llm": BackendSpec(
            "strategies.planners.llm:LLMPlanner",
            "the agent's LLM prompted with the strategy definitions and the dialogue",
            needs=("llm",),
        ),
    },
    "asr": {
        "faster-whisper": BackendSpec(
            "modalities.speech.whisper:FasterWhisperASR",
            "Whisper via CTranslate2 (faster-whisper); default: bundled tiny.en, cuda when present",
            extra="speech",
            requires=("faster_whisper",),
        ),
    },
    "speech_emotion": {
        "prosody": BackendSpec(
            "modalities.speech.prosody:ProsodyEmotion",
            "pitch, energy, rate and pauses, normalised per speaker, mapped to arousal/valence",
        ),
        "transformers": BackendSpec(
            "modalities.speech.hf_audio:TransformersSpeechEmotion",
            "any local transformers audio-classification model directory",
            requires=("transformers", "torch"),
        ),
    },
    "tts": {
        "hibari": BackendSpec(
            "modalities.voice.hibari_tts:HibariTTS",
            "hibari-tts bundled voice (24 kHz ONNX), affect-driven speed and pitch",
            extra="speech",
            requires=("hibari", "onnxruntime"),
        ),
        "piper": BackendSpec(
            "modalities.voice.piper_tts:PiperTTS",
            "Piper voices with phoneme alignments (GPL-3.0, optional: never installed by default)",
            extra="piper",
            requires=("piper", "onnxruntime"),
        ),
        "espeak": BackendSpec(
            "modalities.voice.espeak_tts:EspeakTTS",
            "espeak-ng in a child process: 100+ languages, no timings (apt-get install espeak-ng)",
        ),
    },
    "face": {
        "tflite": BackendSpec(
            "modalities.face.tflite:TFLiteFace",
            "BlazeFace detection + 468-point mesh + FER2013 expression (bundled, ai-edge-litert)",
            extra="face",
            requires=("ai_edge_litert", "cv2"),
        ),
        "onnx": BackendSpec(
            "modalities.face.onnx_fer:ONNXFace",
            "BlazeFace detection + a local ONNX image-classification FER model",
            extra="face",
            requires=("ai_edge_litert", "cv2", "onnxruntime"),
        ),
    },
    "avatar": {
        "portrait": BackendSpec(
            "modalities.avatar.portrait:PortraitRenderer",
            "warps a portrait photo along its face mesh (torch on cuda, OpenCV on CPU)",
            extra="face",
            requires=("cv2", "ai_edge_litert"),
        ),
        "cartoon": BackendSpec(
            "modalities.avatar.cartoon:CartoonRenderer",
            "a clean stylised 2D face drawn from the cues (OpenCV)",
            extra="face",
            requires=("cv2",),
        ),
    },
}


def names(role: str) -> list[str]:
    """The backend names registered for ``role``."""
    return sorted(REGISTRY.get(role, {}))


def spec(role: str, name: str) -> BackendSpec:
    """The spec of backend ``name`` for ``role``, or :class:`UnknownBackendError`."""
    if role not in REGISTRY:
        raise UnknownBackendError("role", role, list(REGISTRY))
    try:
        return REGISTRY[role][name]
    except KeyError:
        raise UnknownBackendError(role, name, names(role)) from None


def missing(entry: BackendSpec) -> list[str]:
    """The modules of ``entry.requires`` that are not installed (found without importing)."""
    return [m for m in entry.requires if importlib.util.find_spec(m) is None]


def backend_class(role: str, name: str) -> type[Any]:
    """Import and return the class of a backend (lazily; nothing is loaded until now)."""
    entry = spec(role, name)
    module_name, _, attr = entry.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        missing = exc.name or "a dependency"
        if missing.split(".")[0] in _OWN_PACKAGES:
            raise ConfigError(
                f"{role} backend {name!r}: module {module_name} failed to import ({exc}); "
                "the installation looks incomplete"
            ) from exc
        hint = f"pip install 'attune[{entry.extra}]'" if entry.extra else f"pip install {missing}"
        raise BackendUnavailableError(
            f"{role} backend {name!r} needs {missing!r}, which is not installed: {hint}"
        ) from exc
    cls: type[Any] = getattr(module, attr)
    return cls


def create(role: str, name: str, settings: AttuneSettings, **kwargs: Any) -> Any:
    """Construct backend ``name`` for ``role`` from settings. Cheap: weights load later.

    The collaborators the backend ``needs`` that ``kwargs`` does not give (or gives as ``None``)
    are created here, from ``settings.backends``; pass them to share one (the agent shares its
    LLM and embedder with the planner).
    """
    for need in spec(role, name).needs:
        if kwargs.get(need) is None:
            kwargs[need] = create(need, getattr(settings.backends, need), settings)
    return backend_class(role, name).from_settings(settings, **kwargs)
