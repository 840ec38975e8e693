"""The problems table, value checks, and raw value columns -> typed Arrow arrays.

A column is first converted optimistically, in C (pyarrow); only a column whose
conversion fails (a string among numbers, seconds among milliseconds...) is walked value
by value, and that walk is where problems are recorded: each check returns a usable
value, or None plus a problem.
"""

from __future__ import annotations

import contextlib
import decimal
import math
from collections.abc import Callable, Mapping, Sequence, Set
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ittybit_frames.errors import SchemaError
from ittybit_frames.frames._jsontext import json_many, json_text, number_of
from ittybit_frames.schema import TIMESTAMP
from ittybit_frames.vocabulary import MS_MAX, MS_MIN, epoch_ms

__all__ = ["LINE_ROWS", "MISSING", "Conv", "Problems", "dictionary", "plain", "plain_columns"]

#: A field absent from the payload (as opposed to a JSON null): no raw value to show.
MISSING = object()
#: NDJSON: the k-th record of line n (a line may be an envelope of many) is input row
#: ``n * LINE_ROWS + k``, so that rows keep input order across both paths.
LINE_ROWS = 2**20
_PLAIN = frozenset({dict, list, str, int, float, bool, type(None)})


def plain(value: Any) -> Any:
    """A value as JSON would give it: any ``Mapping`` a dict (keys as text), any other
    non-text sequence or numpy array a list, a numpy scalar (or 0-d array) its Python
    number."""
    kind = type(value)
    if kind in (str, int, float, bool) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, decimal.Decimal):
        return number_of(value)
    if isinstance(value, np.ndarray):
        items = value.tolist()  # a 0-d array's is its scalar
        return [plain(v) for v in items] if value.ndim else plain(items)
    if isinstance(value, Sequence | Set) and not isinstance(value, str | bytes | bytearray):
        return [plain(v) for v in value]
    return value


def plain_columns(columns: dict[str, Any]) -> dict[str, Any]:
    """Raw value columns with every value :func:`plain` (columns of plain values as
    they are, checked by their values' types only)."""
    for name, values in columns.items():
        if not set(map(type, values)) <= _PLAIN:
            columns[name] = tuple(map(plain, values))
    return columns


class Problems:
    """Every data oddity as a row, or (``strict``) a :class:`SchemaError` at the first."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.rows: list[tuple[Any, Any, str, str, str | None]] = []
        #: What a line of the NDJSON read stands for: "line", or "element" when it
        #: was made of a JSON array's elements (see ``_input.ArrayElements``).
        self.unit = "line"

    def place(self, n: int) -> str:
        """Where line ``n`` of the input came from, in the words of what was passed."""
        return f"element {n} of the JSON array" if self.unit == "element" else f"line {n}"

    def add(self, job_id: Any, task_id: Any, column: str, problem: str, raw: Any) -> None:
        raw_text = None if raw is MISSING else json_text(raw)
        if self.strict:
            where = f"job {job_id}" + (f", task {task_id}" if task_id else "")
            raise SchemaError(f"{where}: {column}: {problem} (value: {raw_text})")
        self.rows.append((job_id, task_id, column, problem, raw_text))


def _ts_value(p: Problems, value: Any, jid: Any, tid: Any, col: str) -> int | None:
    if value is None:
        return None
    try:
        return epoch_ms(value)
    except ValueError as exc:
        p.add(jid, tid, col, f"unusable timestamp ({exc}); set to NA", value)
        return None


def _int_value(p: Problems, value: Any, jid: Any, tid: Any, col: str) -> int | None:
    if value is None:
        return None
    number: Any = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if type(number) is int and -(2**63) <= number < 2**63:
        return number
    if (
        type(number) is float
        and math.isfinite(number)
        and number == int(number)
        and abs(number) < 2**63
    ):
        return int(number)
    p.add(jid, tid, col, "not a whole number; set to NA", value)
    return None


def _float_value(p: Problems, value: Any, jid: Any, tid: Any, col: str) -> float | None:
    if value is None:
        return None
    number = math.nan
    if type(value) in (int, float):
        number = float(value)
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = float(value.strip())
    if math.isfinite(number):
        return number
    p.add(jid, tid, col, "not a finite number; set to NA", value)
    return None


def _str_value(p: Problems, value: Any, jid: Any, tid: Any, col: str) -> str | None:
    if value is None or type(value) is str:
        return value
    if type(value) in (int, float):
        return str(value)
    p.add(jid, tid, col, "not text; stored as JSON text", value)
    return json_text(value)


class Conv:
    """Converts raw value columns of one chunk into typed Arrow arrays, recording the
    problems of each row under its job (and task) ID."""

    def __init__(self, p: Problems, job_ids: Any, task_ids: Any) -> None:
        self.p = p
        self.job_ids = job_ids
        self.task_ids = task_ids
        self.slow_rows: list[int] = []

    def ids(self, i: int) -> tuple[Any, Any]:
        jid = self.job_ids[i]
        tid = self.task_ids[i] if self.task_ids is not None else None
        # Arrow scalars (looked up only when a problem is recorded) -> Python values.
        return (
            jid.as_py() if isinstance(jid, pa.Scalar) else jid,
            tid.as_py() if isinstance(tid, pa.Scalar) else tid,
        )

    def add(self, i: int, column: str, problem: str, raw: Any) -> None:
        """A problem of row ``i``."""
        self.p.add(*self.ids(i), column, problem, raw)

    def _each(self, check: Callable[..., Any], values: Any, col: str, type_: pa.DataType) -> Any:
        # A numpy scalar (a codec name inside an object, which plain_columns leaves as
        # it is) is its Python value, as on the dict route and in a plain column.
        return pa.array(
            [
                check(self.p, v.item() if isinstance(v, np.generic) else v, *self.ids(i), col)
                for i, v in enumerate(values)
            ],
            type=type_,
        )

    @staticmethod
    def infer(values: Any) -> pa.Array | None:
        try:
            return pa.array(values, from_pandas=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
            return None

    def strings(self, values: Any, col: str) -> pa.Array:
        # An explicit type skips inference. It refuses everything but str and None (and
        # bytes, taken as UTF-8 text), so anything odd still reaches the careful path.
        with contextlib.suppress(pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            return pa.array(values, type=pa.string())
        return self._each(_str_value, values, col, pa.string())

    def ints(self, values: Any, col: str, lo: int | None = None, hi: int | None = None) -> pa.Array:
        arr = self.infer(values)
        if arr is None or arr.type not in (pa.int64(), pa.null()):
            arr = self._each(_int_value, values, col, pa.int64())
        arr = arr.cast(pa.int64())
        if lo is not None and hi is not None and arr.null_count < len(arr):
            bad = pc.or_(pc.less(arr, lo), pc.greater(arr, hi)).fill_null(False)
            if pc.any(bad).as_py():
                for i in np.flatnonzero(bad.to_numpy(zero_copy_only=False)):
                    self.add(int(i), col, f"outside {lo}-{hi}; set to NA", arr[int(i)].as_py())
                arr = pc.if_else(bad, pa.scalar(None, pa.int64()), arr)
        return arr

    def floats(self, values: Any, col: str) -> pa.Array:
        arr = self.infer(values)
        # Arrow's inference takes a bool after a float as 0 or 1 ([1.5, False] -> [1.5, 0]);
        # a bool is no number here, so such a column goes value by value.
        if arr is not None and arr.type == pa.float64() and bool in set(map(type, values)):
            arr = None
        if arr is not None and arr.type in (pa.float64(), pa.int64(), pa.null()):
            arr = arr.cast(pa.float64())
            if arr.null_count == len(arr) or pc.all(pc.is_finite(arr)).as_py() is not False:
                return arr
        return self._each(_float_value, values, col, pa.float64())

    def timestamps(self, values: Any, col: str) -> pa.Array:
        arr = self.infer(values)
        if arr is not None and arr.type in (pa.int64(), pa.null()):
            arr = arr.cast(pa.int64())
            if arr.null_count == len(arr):
                return arr.cast(TIMESTAMP)
            in_range = pc.and_(pc.greater_equal(arr, MS_MIN), pc.less(arr, MS_MAX))
            if pc.all(in_range.fill_null(True)).as_py():
                return arr.cast(TIMESTAMP)
        # Seconds, ISO strings, floats or junk: decide value by value.
        return self._each(_ts_value, values, col, pa.int64()).cast(TIMESTAMP)

    @staticmethod
    def json_text(values: Any) -> pa.Array:
        present = [i for i, v in enumerate(values) if v is not None]
        if len(present) == len(values):
            return pa.array(json_many(list(values)), type=pa.string())
        texts: list[Any] = [None] * len(values)
        for i, text in zip(present, json_many([values[i] for i in present]), strict=True):
            texts[i] = text
        return pa.array(texts, type=pa.string())

    def words(self, values: Any, fast: dict[str, str], slow: Any, col: str) -> list[str]:
        """Canonical category words: exact documented words fast, the rest via ``slow``."""
        try:
            out = list(map(fast.get, values))
        except TypeError:  # an unhashable value (a list or object) somewhere
            out = [fast.get(v) if type(v) is str else None for v in values]
        self.slow_rows = []
        if None in out:
            for i, v in enumerate(values):
                if out[i] is None:
                    out[i] = slow(v, *self.ids(i), col)
                    self.slow_rows.append(i)
        return out  # type: ignore[return-value]


def dictionary(words: list[str], categories: tuple[str, ...]) -> pa.DictionaryArray:
    """Canonical words -> a category column over exactly ``categories``."""
    dictionary = pa.array(categories, type=pa.string())
    codes = pc.index_in(pa.array(words, type=pa.string()), value_set=dictionary)
    return pa.DictionaryArray.from_arrays(codes.cast(pa.int8()), dictionary)
