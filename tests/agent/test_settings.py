from pathlib import Path

import pytest
from pydantic import ValidationError

from attune import registry
from attune.errors import BackendUnavailableError, ConfigError, UnknownBackendError
from attune.settings import AttuneSettings, load_settings


def test_defaults():
    s = AttuneSettings()
    assert s.device == "auto"
    assert s.backends.model_dump() == {
        "embedder": "minilm",
        "text_emotion": "goemotions-head",
        "llm": "llamacpp",
        "strategy_planner": "trained",
        "asr": "faster-whisper",
        "speech_emotion": "prosody",
        "tts": "hibari",
        "face": "tflite",
        "avatar": "portrait",
    }
    assert s.paths.session_db_path().name == "sessions.sqlite"
    assert s.resolved_device() in {"cpu", "cuda"}


def test_env_overrides_nested(monkeypatch):
    monkeypatch.setenv("ATTUNE_DEVICE", "cpu")
    monkeypatch.setenv("ATTUNE_BACKENDS__LLM", "openai")
    monkeypatch.setenv("ATTUNE_LLM__OPENAI__BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("ATTUNE_LLM__CANDIDATES", "2")
    s = AttuneSettings()
    assert (s.device, s.backends.llm, s.llm.openai.base_url, s.llm.candidates) == (
        "cpu",
        "openai",
        "http://127.0.0.1:9/v1",
        2,
    )
    assert s.resolved_device() == "cpu"


def test_toml_file_and_precedence(tmp_path: Path, monkeypatch):
    config = tmp_path / "attune.toml"
    config.write_text(
        'device = "cpu"\n[llm]\ncandidates = 5\nmax_tokens = 40\n'
        '[paths]\nsession_db = "/tmp/x.sqlite"\n'
    )
    monkeypatch.setenv("ATTUNE_LLM__MAX_TOKENS", "50")  # env beats the file
    s = load_settings(config)
    assert (s.device, s.llm.candidates, s.llm.max_tokens) == ("cpu", 5, 50)
    assert s.paths.session_db_path() == Path("/tmp/x.sqlite")
    assert load_settings().llm.candidates == 1  # the file applied to that call only (default)


def test_config_from_env_var(tmp_path, monkeypatch):
    config = tmp_path / "c.toml"
    config.write_text('[backends]\nstrategy_planner = "prior"\n[chat]\nmax_input_chars = 10\n')
    monkeypatch.setenv("ATTUNE_CONFIG", str(config))
    assert AttuneSettings().chat.max_input_chars == 10


def test_missing_config_file_is_clear(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    "bad",
    [{"device": "tpu"}, {"llm": {"candidates": 0}}, {"typo_key": 1}, {"llm": {"temperature": -1}}],
)
def test_invalid_values_are_rejected(bad):
    with pytest.raises(ValidationError):
        AttuneSettings(**bad)


def test_unknown_backend_names_the_choices():
    with pytest.raises(UnknownBackendError) as err:
        registry.create("llm", "gpt-17", AttuneSettings())
    assert "gpt-17" in str(err.value) and "llamacpp" in str(err.value)
    with pytest.raises(UnknownBackendError):
        registry.spec("telepathy", "x")


def test_registry_lists_every_role():
    assert set(registry.REGISTRY) == {
        "embedder",
        "text_emotion",
        "llm",
        "strategy_planner",
        "asr",
        "speech_emotion",
        "tts",
        "face",
        "avatar",
    }
    assert registry.names("llm") == ["llamacpp", "openai", "transformers"]


def test_missing_dependency_says_which_extra(monkeypatch):
    spec = registry.BackendSpec("tests.agent.missing_dep_backend:Nothing", "test", extra="gguf")
    monkeypatch.setitem(registry.REGISTRY["llm"], "needs-missing", spec)
    with pytest.raises(BackendUnavailableError) as err:
        registry.create("llm", "needs-missing", AttuneSettings())
    assert "attune[gguf]" in str(err.value) and "definitely_not_installed_pkg" in str(err.value)


def test_every_registered_backend_constructs_cheaply_or_says_why():
    """Constructing never loads weights; a backend that needs a setting says which."""
    settings = AttuneSettings()
    for role, table in registry.REGISTRY.items():
        for name in table:
            try:
                backend = registry.create(role, name, settings)
            except ConfigError as exc:
                assert "model" in str(exc).lower(), (role, name, exc)
                continue
            assert backend is not None


def test_each_backend_has_its_section_and_the_flat_keys_of_01_still_work(
    tmp_path, monkeypatch
) -> None:
    import pytest

    from attune.settings import AttuneSettings, load_settings

    toml = tmp_path / "attune.toml"
    toml.write_text('[llm.openai]\nbase_url = "http://127.0.0.1:8000/v1"\nmodel = "mine"\n'
                    '[voice.espeak]\nvoice = "de"\n')  # fmt: skip
    s = load_settings(config=toml)
    assert (s.llm.openai.base_url, s.llm.openai.model) == ("http://127.0.0.1:8000/v1", "mine")
    assert s.voice.espeak.voice == "de" and s.voice.hibari.voice == "af_heart"
    with pytest.warns(DeprecationWarning, match=r"llm.base_url.*\[llm.openai\]"):
        old = AttuneSettings(llm={"base_url": "http://h:1/v1", "model": "m", "candidates": 2})
    assert (old.llm.openai.base_url, old.llm.openai.model, old.llm.candidates) == (
        "http://h:1/v1", "m", 2,
    )  # fmt: skip
    with pytest.warns(DeprecationWarning):
        voice = AttuneSettings(voice={"voice": "af_heart", "model_path": str(tmp_path / "v.onnx")})
    assert voice.voice.piper.model_path == tmp_path / "v.onnx"
    monkeypatch.setenv("ATTUNE_LLM__API_KEY", "from-env")
    with pytest.warns(DeprecationWarning):
        env = load_settings()
    assert env.llm.openai.api_key.get_secret_value() == "from-env"


def test_the_perception_backends_have_their_sections_too() -> None:
    import warnings

    import pytest

    from attune.settings import AttuneSettings

    s = AttuneSettings(
        speech={"whisper": {"beam_size": 2}, "transformers": {"model_path": "/m"}},
        face={"onnx": {"model_path": "/f.onnx"}},
        text_emotion={"goemotions_head": {"head_path": "/h"}},
    )
    assert s.speech.whisper.beam_size == 2 and str(s.speech.transformers.model_path) == "/m"
    assert str(s.face.onnx.model_path) == "/f.onnx"
    assert str(s.text_emotion.goemotions_head.head_path) == "/h"
    with pytest.warns(DeprecationWarning, match=r"speech.asr_model_path.*\[speech.whisper\]"):
        old = AttuneSettings(
            speech={"asr_model_path": "/w", "beam_size": 3, "emotion_model_path": "/e"},
            face={"model_path": "/o.onnx", "max_pixels": 100_000},
            text_emotion={"model_path": "/t", "default_threshold": 0.4},
        )
    assert (str(old.speech.whisper.model_path), old.speech.whisper.beam_size) == ("/w", 3)
    assert str(old.speech.transformers.model_path) == "/e"
    assert (str(old.face.onnx.model_path), old.face.max_pixels) == ("/o.onnx", 100_000)
    assert old.text_emotion.transformers.default_threshold == 0.4
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new form warns about nothing
        AttuneSettings(speech={"whisper": {"compute_type": "int8"}})
