"""The README's two Quick start commands are the ones CI and CONTRIBUTING.md run."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quick_start() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    demo, suite = quick_start()
    assert demo.endswith("ittybit-frames demo") and "pytest" in suite
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert ci == suite
    assert suite in (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert (ROOT / "tests" / "install-browser.sh").exists()
