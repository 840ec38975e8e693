"""Progress bars show only in a terminal or a running notebook kernel.

Found by the full suite: once any code in the process had imported ``ipykernel``
(``nbclient`` starting a notebook does, and so does PySpark building an error), every
later walk drew progress bars on a non-terminal stderr, so a batch job's log (or the
CLI's one-line summary, as tests/test_cli_output.py saw) filled with bar frames."""

from __future__ import annotations

import sys
import types

import pytest

from ittybit_frames.client._runtime import progress_bar
from ittybit_frames.simulator import SimulatorAPI
from tests.conftest import fast_client


def test_an_imported_ipykernel_outside_a_kernel_draws_no_bar(
    api: SimulatorAPI, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: None  # type: ignore[attr-defined]  # no shell running
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    with fast_client(api, progress=None) as client:  # None: "only where someone watches"
        assert len(list(client.iter_jobs(page_size=50))) == len(api.jobs)
    assert capsys.readouterr().err == ""


def test_a_running_kernel_still_gets_its_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    class Shell:
        kernel = object()  # what IPython's kernel shell carries

    ipython = types.ModuleType("IPython")
    ipython.get_ipython = Shell  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    bar = progress_bar(None, 10, "fetching jobs")
    try:
        assert type(bar).__name__ == "Progress"
    finally:
        bar.close()


def test_a_terminal_ipython_without_a_kernel_is_a_terminal_question(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class TerminalShell:  # IPython in a terminal: no kernel; the TTY decides
        pass

    ipython = types.ModuleType("IPython")
    ipython.get_ipython = TerminalShell  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    bar = progress_bar(None, 10, "fetching jobs")  # pytest's stderr is no TTY
    assert type(bar).__name__ == "_NullBar"
