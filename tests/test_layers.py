"""The layer contract of ``make lint`` (``[tool.importlinter]`` in pyproject.toml) holds on the
tree, and fails a change that imports upwards or lets a backend call the registry."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("attune", "agent", "modalities", "strategies", "server")
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH first: the copy's packages, not the installed (editable) ones
    return subprocess.run(
        [str(LINT), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root, capture_output=True, text=True, timeout=300,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)},
    )  # fmt: skip


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    if not LINT.is_file():
        pytest.fail("lint-imports is not installed (import-linter, in attune[dev])")
    for name in PACKAGES:
        skip = shutil.ignore_patterns("data", "assets", "static", "artifacts", "__pycache__")
        shutil.copytree(ROOT / name, tmp_path / name, ignore=skip)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}\n")


def test_the_tree_keeps_every_contract(tree: Path):
    proc = _lint(tree)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "0 broken" in proc.stdout


#: (file, the line appended to it, what lint-imports must then report)
BACK_IMPORTS = [
    # the vocabulary importing a backend
    ("attune/types.py", "import modalities.audio",
     "attune.types is not allowed to import modalities"),
    # a backend importing the graph
    ("modalities/text/base.py", "import agent.core", "modalities is not allowed to import agent"),
    # the graph importing the server
    ("agent/graph.py", "import server.app", "agent is not allowed to import server"),
    # new code importing a module that stays only for sessions stored before the layers
    ("agent/graph.py", "from modalities.types import ChatMessage",
     "agent is not allowed to import modalities.types"),
    # a backend creating its own collaborator
    ("strategies/planners/prior.py", "from attune import registry",
     "strategies is not allowed to import attune.registry"),
]  # fmt: skip


@pytest.mark.parametrize(("module", "line", "broken"), BACK_IMPORTS)
def test_a_back_import_breaks_the_contract(tree: Path, module: str, line: str, broken: str):
    _append(tree / module, line)
    proc = _lint(tree)
    assert proc.returncode != 0
    assert broken in proc.stdout, proc.stdout[-3000:]
