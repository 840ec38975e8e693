"""Adversarial pass on session 20's group texts made in place
(:func:`._ndjson_groups._in_place`, one reused buffer per reading thread): the texts
must be exactly the Arrow joins' without their newlines, whatever the block before left
in the buffer, and ``to_frames`` through the fast path must still give what the careful
path gives; the buffers must go with the conversion's threads."""

from __future__ import annotations

import gc
import json
import threading
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ittybit_frames as itf
from ittybit_frames.frames import _ndjson, _ndjson_groups, to_frames_in_parts
from ittybit_frames.frames._ndjson_blocks import line_array
from ittybit_frames.simulator import generate_history
from tests.test_frames_groups import _careful, group_taken  # noqa: F401  (a fixture)
from tests.test_frames_properties import assert_same, through_sql
from tests.test_s20_group_texts import Made, _starts, made  # noqa: F401  (a fixture)

GROUP = _ndjson_groups.GROUP_LINES
CURRENT = generate_history(300, seed=2001, generation="current")
MIX = generate_history(300, seed=2002, generation="mix")


def _lines(jobs: list[Any], end: str = "\n") -> list[str]:
    return [json.dumps(job) + end for job in jobs]


# --------------------------------------------------------------------------------------
# The texts themselves: exact, whatever the buffer held before.
# --------------------------------------------------------------------------------------


def test_a_small_block_after_a_large_one_has_no_stale_bytes() -> None:
    """One thread: texts of long lines fill a large buffer with '{' and 'x', then a
    block of short lines is made in it: every text is exactly the join's."""
    long_lines = [json.dumps({"pad": "x" * 5000, "n": i}) + "\n" for i in range(300)]
    data = ("".join(long_lines)).encode()
    big, _ = line_array(data, 0, len(data))
    first = _ndjson_groups._in_place(big, _starts(len(big)))
    assert first is not None
    short = "".join(f"{i}\n" for i in range(130)).encode()
    small, _ = line_array(short, 0, len(short))
    texts = _ndjson_groups._in_place(small, _starts(len(small)))
    assert texts is not None
    texts.validate(full=True)
    assert texts.to_pylist() == [
        "[" + ",".join(str(i) for i in range(lo, hi)) + "]"
        for lo, hi in [(0, 64), (64, 128), (128, 130)]
    ]


def test_texts_over_a_taken_copy_with_an_offset_are_exact() -> None:
    """Lines sliced from a block (an offset into their offsets) and then taken (as
    grouped() sorts lines by their first 8 characters) give the join's texts."""
    lines = _lines(MIX) + _lines(CURRENT)
    data = ("junk\n" + "".join(lines)).encode()
    array, _ = line_array(data, 0, len(data))
    sliced = array.slice(1)
    order = np.argsort(np.array([s[:8] for s in sliced.to_pylist()]), kind="stable")
    for lines_ in (sliced, sliced.take(pa.array(order))):
        texts = _ndjson_groups._in_place(lines_, _starts(len(lines_)))
        assert texts is not None
        joined = _ndjson_groups._joined(lines_, _starts(len(lines_)))
        assert texts.to_pylist() == [t.replace("\n", "") for t in joined.to_pylist()]


def test_large_string_lines_give_the_joins_texts() -> None:
    data = "".join(_lines(CURRENT)).encode()
    array, _ = line_array(data, 0, len(data), large_block=1)
    assert pa.types.is_large_string(array.type)
    texts = _ndjson_groups._in_place(array, _starts(len(array)))
    assert texts is not None
    joined = _ndjson_groups._joined(array, _starts(len(array)))
    assert texts.to_pylist() == [t.replace("\n", "") for t in joined.to_pylist()]


# --------------------------------------------------------------------------------------
# Whole conversions: the fast path equals the careful one, the texts made in place.
# --------------------------------------------------------------------------------------


def _hostile_lines() -> dict[str, bytes]:
    """Inputs of 600 lines with one kind of trouble each."""
    base = _lines(CURRENT) + _lines(MIX)
    out: dict[str, list[str]] = {}
    crlf = [line[:-1] + "\r\n" for line in base]
    out["crlf"] = crlf
    out["blank_at_group_ends"] = [
        "\n" if i % GROUP == GROUP - 1 else line for i, line in enumerate(base)
    ]
    out["whitespace_lines"] = [" \t \n" if i % 50 == 7 else line for i, line in enumerate(base)]
    out["bom_first"] = ["\ufeff" + base[0], *base[1:]]
    out["nul_in_line"] = [*base[:100], base[100][:-2] + "\x00}\n", *base[101:]]
    out["long_line"] = [
        *base[:70],
        json.dumps({**CURRENT[70], "metadata": {"blob": "y" * 3_000_000}}) + "\n",
        *base[71:],
    ]
    out["two_objects"] = [*base[:5], base[5][:-1] + " " + base[6], *base[7:]]
    cut = base[9].index('"status"')
    out["bracket_over_lines"] = [
        *base[:9],
        base[9][:cut] + '"metadata": [\n',
        "1, 2\n",
        "], " + base[9][cut:],
        *base[10:],
    ]
    out["heads_differ"] = [(" " * (i % 9)) + line for i, line in enumerate(base)]
    split_at = base[40].index('"kind": "') + 12
    out["string_split_heads_alike"] = [
        "        " + line
        for line in [*base[:40], base[40][:split_at] + "\n", base[40][split_at:], *base[41:]]
    ]
    # the second half of a split string starts like a job line: sorted with its first
    out["string_split_second_half_like_a_job"] = [
        *base[:40],
        base[40][: base[40].index('"id": "') + 8] + "\n",
        '{"id": "' + base[40][base[40].index('"id": "') + 8 :],
        *base[41:],
    ]
    out["no_final_newline"] = [*base[:-1], base[-1][:-1]]
    data = {name: "".join(lines).encode() for name, lines in out.items()}
    data["invalid_utf8"] = (
        "".join(base[:200]).encode() + b'{"id": "\xff"}\n' + ("".join(base[200:]).encode())
    )
    return data


HOSTILE = _hostile_lines()


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_is_read_as_the_careful_path_reads_it(
    name: str,
    made: Made,  # noqa: F811
    group_taken: list[int],  # noqa: F811
) -> None:
    data = HOSTILE[name]
    assert_same(through_sql(data), _careful(data))
    assert not made.wrong
    if name not in {"invalid_utf8", "no_final_newline"}:
        assert made.calls, "the texts were not made in place"
        assert sum(group_taken) >= 300


def test_blocks_of_different_sizes_by_one_thread_reuse_its_buffer(
    made: Made,  # noqa: F811
) -> None:
    """One reader, blocks of different sizes and lines (long lines first, then short):
    its buffer, filled by the first block, is written over by smaller ones, and every
    block's rows are the careful path's."""
    jobs = generate_history(860, seed=2003, generation="mix")
    lines = _lines(jobs)
    for i in range(160):
        lines[i] = json.dumps({**jobs[i], "metadata": {"p": "z" * 5000}}) + "\n"
    data = "".join(lines).encode()
    reader = _ndjson.NdjsonReader(min_lines=0, min_records=0, block_bytes=1_300_000)
    fast = itf.to_frames(data, workers=1, _reader=reader)
    assert_same(fast, _careful(data))
    assert not made.wrong
    threads = {thread for thread, _, _ in made.calls}
    assert len(made.calls) >= 3 and len(threads) == 1
    sizes = [size for _, _, size in made.calls]
    assert len(set(sizes)) == len(sizes) and sizes[-1] < min(sizes[:-1])
    assert made.calls[-1][1] == made.calls[-2][1]  # the smaller block in the same buffer
    assert len(made.buffers) < len(made.calls)


def test_two_conversions_at_once_in_the_callers_threads(
    made: Made,  # noqa: F811
) -> None:
    """Two callers' threads convert different inputs at the same time: each gets its
    careful result, and no reading thread's buffer served both."""
    inputs = {
        1: "".join(_lines(generate_history(700, seed=2004, generation="current"))).encode(),
        2: "".join(_lines(generate_history(700, seed=2005, generation="older"))).encode(),
    }
    results: dict[int, itf.JobFrames] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)
    reader = _ndjson.NdjsonReader(min_lines=0, min_records=0, block_bytes=450_000)

    def convert(key: int) -> None:
        try:
            barrier.wait()
            results[key] = itf.to_frames(inputs[key], workers=2, _reader=reader)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=convert, args=(key,)) for key in inputs]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors
    for key, data in inputs.items():
        assert_same(results[key], _careful(data))
    assert not made.wrong
    assert len({thread for thread, _, _ in made.calls}) >= 2


def test_records_in_parts_and_parsed_dicts_read_as_the_careful_path(
    made: Made,  # noqa: F811
) -> None:
    jobs = generate_history(700, seed=2006, generation="mix")
    reader = _ndjson.NdjsonReader(min_lines=0, min_records=0, block_bytes=450_000)
    careful = itf.to_frames(jobs, _reader=_ndjson.NdjsonReader(use_sql=False))
    assert_same(itf.to_frames(jobs, _reader=reader), careful)
    text = "".join(_lines(jobs)).encode()
    parts: list[Any] = [text[: text.index(b"\n", 50_000) + 1], jobs[300:310]]
    rest = text.split(b"\n")
    parts[0] = b"\n".join(rest[:300]) + b"\n"
    parts.append(b"\n".join(rest[310:]))
    in_parts = to_frames_in_parts(parts, piece_bytes=450_000, _reader=reader)
    assert_same(in_parts, careful)
    assert made.calls and not made.wrong


# --------------------------------------------------------------------------------------
# The buffers' lifetime.
# --------------------------------------------------------------------------------------


def test_the_buffers_go_with_the_conversion(
    made: Made,  # noqa: F811
) -> None:
    data = "".join(_lines(generate_history(1000, seed=2007))).encode()
    reader = _ndjson.NdjsonReader(min_lines=0, min_records=0, block_bytes=500_000)
    mine = getattr(_ndjson_groups._SCRATCH, "buffer", None)  # this thread's, if a test made one
    itf.to_frames(data, workers=2, _reader=reader)
    assert made.buffers
    gc.collect()
    assert [ref() for ref in made.buffers] == [None] * len(made.buffers)
    assert getattr(_ndjson_groups._SCRATCH, "buffer", None) is mine


def test_an_error_mid_conversion_frees_the_buffers_and_the_next_conversion_is_right(
    made: Made,  # noqa: F811
) -> None:
    """Records whose iterable raises after DuckDB read some pieces; then a conversion
    in the same process: right, and the failed one's buffers are gone."""
    jobs = generate_history(800, seed=2008, generation="current")
    text = "".join(_lines(jobs)).encode().split(b"\n")

    def parts() -> Any:
        for i in range(0, 750, 150):
            yield b"\n".join(text[i : i + 150]) + b"\n"
        raise KeyboardInterrupt

    reader = _ndjson.NdjsonReader(min_lines=0, min_records=0)
    with pytest.raises(KeyboardInterrupt):
        to_frames_in_parts(parts(), piece_bytes=400_000, _reader=reader)
    assert made.calls
    gc.collect()
    assert all(ref() is None for ref in made.buffers)
    made.calls.clear()
    data = b"\n".join(text)
    assert_same(through_sql(data, block_bytes=500_000), _careful(data))
    assert made.calls and not made.wrong


def test_ctrl_c_while_a_reader_checks_its_groups_then_a_new_conversion(
    made: Made,  # noqa: F811
) -> None:
    """Ctrl-C (a KeyboardInterrupt from the parts being handed over) once a reader has
    made its texts and DuckDB is on them: the conversion stops with it, its buffers go,
    and the next conversion in the process reads as the careful path does."""
    jobs = generate_history(900, seed=2009, generation="current")
    text = "".join(_lines(jobs)).encode().split(b"\n")
    reached = threading.Event()
    original = _ndjson_groups._in_place

    def signalling(lines: pa.Array, starts: np.ndarray) -> Any:
        texts = original(lines, starts)
        reached.set()
        return texts

    def parts() -> Any:
        yield b"\n".join(text[:400]) + b"\n"
        yield b"\n".join(text[400:800]) + b"\n"
        assert reached.wait(60), "no reader made its texts"
        raise KeyboardInterrupt

    reader = _ndjson.NdjsonReader(min_lines=0, min_records=0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_ndjson_groups, "_in_place", signalling)
        with pytest.raises(KeyboardInterrupt):
            to_frames_in_parts(parts(), piece_bytes=300_000, _reader=reader)
    assert reached.is_set()
    gc.collect()
    assert all(ref() is None for ref in made.buffers)
    data = b"\n".join(text)
    assert_same(through_sql(data, block_bytes=500_000), _careful(data))
    assert made.calls and not made.wrong


_SPLITS = st.lists(st.tuples(st.integers(0, 299), st.floats(0.02, 0.98)), min_size=1, max_size=3)


@settings(max_examples=12, deadline=None)
@given(_SPLITS, st.booleans(), st.booleans())
def test_lines_cut_in_two_anywhere_read_as_the_careful_path(
    cuts: list[tuple[int, float]], pad: bool, crlf: bool
) -> None:
    """Lines cut anywhere (inside a string, a number, a key, after a backslash): the two
    halves are each no JSON, but made one line again by a comma they may be a job.
    (Padded, every line begins alike and the halves stay side by side in one group.)"""
    lines = [json.dumps(job) for job in CURRENT]
    for at, where in sorted(set(cuts), reverse=True):
        line = lines[at]
        cut = max(1, int(len(line) * where))
        lines[at : at + 1] = [line[:cut], line[cut:]]
    end = "\r\n" if crlf else "\n"
    data = "".join((" " * 8 if pad else "") + line + end for line in lines).encode()
    seen: list[int] = []
    original = _ndjson_groups._in_place

    def counted(lines_: pa.Array, starts: np.ndarray) -> Any:
        texts = original(lines_, starts)
        seen.append(texts is not None)
        return texts

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_ndjson_groups, "_in_place", counted)
        fast = through_sql(data)
    assert_same(fast, _careful(data))
    assert seen and all(seen)


def test_a_cut_after_a_backslash_or_in_an_escape_reads_as_the_careful_path(
    made: Made,  # noqa: F811
) -> None:
    """Lines cut right after a backslash of an escape (``\\"``, ``\\\\``, ``\\u``): the
    newline made a comma leaves ``\\,``, an escape no JSON has."""
    jobs = [dict(job) for job in CURRENT]
    for i in (10, 11, 12):
        jobs[i]["metadata"] = {"note": 'a "quoted" \\ back \u00e9 \n'}
    lines = [json.dumps(job) for job in jobs]
    out: list[str] = []
    for i, line in enumerate(lines):
        if i in (10, 11, 12):
            mark = ['\\"', "\\\\", "\\u"][i - 10]
            cut = line.index(mark) + 1
            out += [line[:cut], line[cut:]]
        else:
            out.append(line)
    data = "".join(line + "\n" for line in out).encode()
    assert_same(through_sql(data), _careful(data))
    assert made.calls and not made.wrong


def test_blocks_with_64_bit_offsets_read_as_the_careful_path(
    made: Made,  # noqa: F811
) -> None:
    """Every block given Arrow's 64-bit string offsets (``large_block``): the texts are
    made in place over them, and the rows are the careful path's."""
    data = HOSTILE["heads_differ"]
    assert_same(through_sql(data, large_block=1), _careful(data))
    assert made.calls and not made.wrong
