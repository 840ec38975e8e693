"""The report as a reader's browser shows it: headless Chromium, every image, no errors.

Runs wherever Chromium is installed; the README's test command installs Debian's
package when it can (tests/install-browser.sh), so CI always runs it. Elsewhere it is
skipped with the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import ittybit_frames as itf
from tests.browser import chromium, open_page

pytestmark = pytest.mark.skipif(
    chromium() is None,
    reason="no Chromium: run tests/install-browser.sh (Debian: apt-get install chromium)",
)


PIXEL = (  # a 1x1 PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def test_the_checker_sees_a_broken_page(tmp_path: Path) -> None:
    """The browser check itself can fail: a missing image and a script error are seen."""
    page = tmp_path / "broken.html"
    page.write_text(
        "<html><head><title>t</title></head><body>"
        f"<img src='data:image/png;base64,{PIXEL}'>"
        "<img src='missing.png'>"
        "<script>console.error('boom'); undefined_function();</script></body></html>"
    )
    seen = open_page(page)
    assert len(seen.images) == 2 and len(seen.broken_images) == 1
    assert any("boom" in line for line in seen.console)
    assert seen.exceptions


def test_report_opens_with_every_image_and_no_console_error(
    tmp_path: Path, history: list[dict[str, Any]]
) -> None:
    itf.to_frames(history).to_parquet(tmp_path / "lake")
    page = itf.report(tmp_path / "lake", tmp_path / "out")
    seen = open_page(page)
    pngs = sorted((tmp_path / "out").glob("*.png"))
    assert len(seen.images) >= len(pngs) > 0
    assert seen.broken_images == []
    assert seen.console == [] and seen.exceptions == [] and seen.failed_requests == []
    assert "ittybit" in seen.title.lower()
