"""``assert_frame_equal`` that decides the common case, two identical frames, quickly.

``pandas.testing.assert_frame_equal`` costs milliseconds per column (categorical and
Arrow-backed columns are compared value by value, in Python), and the property tests
compare a few frames per example for hundreds of examples: it was about a third of their
time. :func:`identical` is a stricter check than ``assert_frame_equal``'s defaults (same
classes, labels, names, dtypes, categories in the same order, values equal exactly, NA
in the same places) that never raises; when it answers no, or when options are passed,
``pandas.testing.assert_frame_equal`` decides and explains. So a comparison passes here
exactly when it passes there (what it accepts, it also accepts), and fails with its
message.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray


def _same_index(left: pd.Index, right: pd.Index) -> bool:
    if type(left) is not type(right) or left.dtype != right.dtype:
        return False
    if left.dtype == object or isinstance(left, pd.MultiIndex | pd.CategoricalIndex):
        return False  # rare here: left to pandas
    if list(left.names) != list(right.names) or getattr(left, "freq", None) != getattr(
        right, "freq", None
    ):
        return False
    return bool(left.equals(right))


def _same_values(left: Any, right: Any) -> bool:
    if type(left) is not type(right) or left.dtype != right.dtype:
        return False
    if isinstance(left, pd.Categorical):
        return (
            left.ordered == right.ordered
            and _same_index(left.categories, right.categories)
            and np.array_equal(left.codes, right.codes)
        )
    if isinstance(left, ExtensionArray):
        try:  # same type and dtype, equal values, NA at the same places
            return bool(left.equals(right))
        except (TypeError, ValueError, NotImplementedError):  # values == cannot compare
            return False
    if not isinstance(left, np.ndarray) or left.dtype.kind not in "biufmM":
        return False  # object columns (any Python value): left to pandas
    if left.dtype.kind in "fc":
        return bool(np.array_equal(left, right, equal_nan=True))
    return bool(np.array_equal(left, right))


def identical(left: Any, right: Any) -> bool:
    """Whether two frames are the same in every respect ``assert_frame_equal`` checks."""
    if type(left) is not pd.DataFrame or type(right) is not pd.DataFrame:
        return False
    if left.shape != right.shape or left.flags != right.flags:
        return False
    if not (_same_index(left.index, right.index) and _same_index(left.columns, right.columns)):
        return False
    return all(
        _same_values(left._get_column_array(i), right._get_column_array(i))
        for i in range(left.shape[1])
    )


def assert_frame_equal(left: Any, right: Any, **options: Any) -> None:
    """``pandas.testing.assert_frame_equal``, with identical frames accepted at once."""
    if options or not identical(left, right):
        pd.testing.assert_frame_equal(left, right, **options)
