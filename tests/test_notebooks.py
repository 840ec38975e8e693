"""Every notebook runs top to bottom against the simulator, and is committed clean."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert {p.stem for p in NOTEBOOKS} == {"quickstart", "failure_analysis", "capacity"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_is_committed_without_outputs(
    path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, "clear outputs"
    monkeypatch.delenv("ITTYBIT_API_KEY", raising=False)  # the simulator, never the API
    monkeypatch.setenv("ITTYBIT_DEMO_JOBS", "1500")
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the charts rendered


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_open_with_questions_and_type_no_numbers(path: Path) -> None:
    """Every figure a notebook states is printed by its own cells, never typed in prose."""
    import re

    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.read(path, as_version=4)
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and "Questions this notebook answers" in first.source
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        prose = re.sub(r"`[^`]*`", "", cell.source)  # code spans name things, not figures
        prose = re.sub(r"(?m)^\s*\d+\.\s", "", prose)  # numbered questions
        assert not re.search(r"\d", prose), f"a typed number in: {cell.source[:80]!r}"
