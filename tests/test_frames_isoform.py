"""The fast path's ISO-8601 check by bytes (:func:`._isoform.iso_texts`) says of every
text what the regular expression it replaced says (:data:`._isoform.ISO_PATTERN`)."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ittybit_frames as itf
from ittybit_frames.frames import _ndjson
from ittybit_frames.frames._isoform import ISO_PATTERN, iso_texts
from ittybit_frames.simulator import generate_history
from tests.test_frames_properties import assert_same, through_sql

GOOD = [
    "2026-11-02T22:09:36Z",
    "2026-11-02T22:09:36.2Z",
    "2026-11-02T22:09:36.29Z",
    "2026-11-02T22:09:36.291Z",
    "2026-11-02T22:09:36+01:00",
    "2026-11-02T22:09:36.2-05:30",
    "2026-11-02T22:09:36.29+00:00",
    "2026-11-02T22:09:36.291-00:00",
]

#: One byte changed, added or dropped here and there in the good ones, and other
#: near misses.
BAD = [
    "2026-11-02 22:09:36Z",
    "2026-11-02T22:09:36",
    "2026-11-02T22:09:36.2910Z",
    "2026-11-02T22:09:36.Z",
    "2026-11-02T22:09:36,291Z",
    "2026-11-02T22:09:36.291z",
    "2026-11-02T22:09:36,01:00",
    "2026-11-02T22:09:36*01:00",
    "2026-11-02T22:09:36+0100",
    "2026-11-02T22:09:36+01",
    "2026-11-02T22:09:3aZ",
    "20261102T220936Z",
    "2026-11-02T22:09:36Z\n",
    " 2026-11-02T22:09:36Z",
    "2026-11-02T22:09:36Ze",
    "\uff12026-11-02T22:09:36Z",  # a full-width digit two
    "2026-11-02T22:09:3é",
    "2026/11/02T22:09:36.291Z",
    "1793657361779",
    "",
]


def _regex(texts: pa.Array) -> list[bool]:
    return pc.fill_null(pc.match_substring_regex(texts, ISO_PATTERN), False).to_pylist()


@pytest.mark.parametrize("large", [False, True])
def test_the_forms_taken_and_their_near_misses(large: bool) -> None:
    texts = pa.array([*GOOD, None, *BAD], pa.large_string() if large else pa.string())
    got = iso_texts(texts).to_pylist()
    assert got == _regex(texts)
    assert got == [True] * len(GOOD) + [False] * (1 + len(BAD))


def test_a_slice_and_a_column_of_one_form() -> None:
    texts = pa.array(["x", *GOOD, *BAD, *GOOD]).slice(1)
    assert iso_texts(texts).to_pylist() == _regex(texts)
    same = pa.array(["2026-11-02T22:09:36.291Z", "2026-11-02T22:09:36.291Q"] * 50).slice(1)
    assert iso_texts(same).to_pylist() == _regex(same)


#: Bytes of the ISO forms and the few near them.
_ALPHABET = "0123456789-T:.Z+,/ zt9"


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.sampled_from(GOOD + BAD),
            st.text(_ALPHABET, min_size=18, max_size=30),
            st.builds(
                lambda good, at, byte: good[:at] + byte + good[at + 1 :],
                st.sampled_from(GOOD),
                st.integers(0, 29),
                st.sampled_from([*_ALPHABET, "", "é", "00"]),
            ),
        ),
        max_size=60,
    )
)
def test_every_text_is_judged_as_the_pattern_judges_it(texts: list[str | None]) -> None:
    array = pa.array(texts, pa.string())
    assert iso_texts(array).to_pylist() == _regex(array)


def test_a_date_that_does_not_exist_sends_its_line_the_careful_way() -> None:
    """Every timestamp of a block ISO (no copy with the others nulled), one of them a
    day February has not: Arrow refuses the whole column, and the lines go the careful
    way, which reports that one."""
    jobs = generate_history(80, seed=5, generation="older")
    jobs[30]["created"] = "2025-02-30T10:00:00.000Z"
    data = ("\n".join(json.dumps(job) for job in jobs) + "\n").encode()
    careful = itf.to_frames(data, _reader=_ndjson.NdjsonReader(use_sql=False))
    assert_same(through_sql(data), careful)
    assert careful.problems["raw_value"].str.contains("2025-02-30").any()
