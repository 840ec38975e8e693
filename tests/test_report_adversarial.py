"""The report on hostile data: scripts nobody's font has, markup in every text field.

Each test here failed before the fix it names (see the commit that added it).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from ittybit_frames import to_frames
from ittybit_frames.report import report

EVIL = "<script>alert('x')</script>"


def _failed(i: int, message: str, customer: str) -> dict[str, Any]:
    return {
        "id": f"job_{i}",
        "kind": "video",
        "status": "failed",
        "created_at": "2026-11-01T10:00:00Z",
        "started_at": "2026-11-01T10:01:00Z",
        "finished_at": "2026-11-01T10:05:00Z",
        "error": {"kind": "encode_failed", "message": message},
        "metadata": {"customer_id": customer},
    }


def test_error_messages_in_a_script_the_font_lacks_draw_without_warnings(
    tmp_path: Path,
) -> None:
    """Why: matplotlib warned once per missing glyph while the charts were saved, so
    ``ittybit-frames report`` on a lake with Chinese error messages printed a dozen
    UserWarning lines (and code that turns warnings into errors failed). The charts
    show boxes for those glyphs; the tables hold the text as sent."""
    message = "编码失败: 文件损坏 " + EVIL + " " + "x" * 5000
    frames = to_frames([_failed(i, message, "客户 " + EVIL) for i in range(5)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        page = report(frames, tmp_path / "report")
    text = page.read_text(encoding="utf-8")
    assert "编码失败" in text
    assert "客户" in text
    assert EVIL not in text
    assert "&lt;script&gt;" in text
