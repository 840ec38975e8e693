"""bench/run_all.py rewrites only the tables between its markers."""

from __future__ import annotations

from bench.run_all import replace


def test_replace_keeps_the_prose_around_the_table() -> None:
    text = "# B\n\nintro\n\n<!-- bench:lake -->\nold table\n<!-- /bench:lake -->\n\nnotes\n"
    out = replace(text, "lake", "new table\n")
    assert out == "# B\n\nintro\n\n<!-- bench:lake -->\nnew table\n<!-- /bench:lake -->\n\nnotes\n"
    added = replace(out, "fetch", "fetch table\n")
    assert added.startswith(out.rstrip()) and "<!-- bench:fetch -->\nfetch table\n" in added
