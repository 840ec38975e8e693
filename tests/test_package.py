"""The package's promises: public surface, typing and lint, no heavy imports."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ittybit_frames

ROOT = Path(__file__).resolve().parents[1]


def test_all_is_sorted_and_importable() -> None:
    names = ittybit_frames.__all__
    assert names == sorted(names)
    for name in names:
        assert hasattr(ittybit_frames, name), name
    assert ittybit_frames.__version__


def test_importing_does_not_load_matplotlib_or_configure_logging() -> None:
    code = (
        "import logging, sys, ittybit_frames;"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported';"
        "assert not logging.getLogger().handlers, 'root logging configured'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_py_typed_marker() -> None:
    assert (ROOT / "ittybit_frames" / "py.typed").exists()


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(Path(sys.executable).parent))
    if path is None:
        pytest.fail(f"{name} is not installed: install the test extras (pip install -e '.[test]')")
    return path


def test_ruff_clean() -> None:
    result = subprocess.run(
        [_tool("ruff"), "check", "ittybit_frames", "tests", "bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_clean() -> None:
    result = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
