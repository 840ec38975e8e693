"""Helpers shared by the metrics: column checks, category codes, time buckets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

#: Task kinds that are the encode stage of the pipeline.
ENCODE_KINDS = ("video", "audio", "image", "animation", "adaptive_video")


def _equals(series: pd.Series, value: str) -> np.ndarray:
    """``series == value`` as a numpy mask; on categoricals it compares codes."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        categories = list(series.cat.categories)
        if value not in categories:
            return np.zeros(len(series), dtype=bool)
        mask: np.ndarray = series.cat.codes.to_numpy() == categories.index(value)
        return mask
    return (series.astype(str) == value).to_numpy()


def _isin(series: pd.Series, values: Sequence[str]) -> np.ndarray:
    """``series.isin(values)`` as a numpy mask, NA false; on categoricals it compares
    codes, not a string copy of every row."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        hits = np.flatnonzero(series.cat.categories.isin(list(values)))
        mask: np.ndarray = np.isin(series.cat.codes.to_numpy(), hits)
        return mask
    return series.astype("string").isin(list(values)).fillna(False).to_numpy(dtype=bool)


def _rows(frame: pd.DataFrame, mask: Any, columns: Sequence[str]) -> pd.DataFrame:
    """The rows where ``mask`` holds, with only ``columns`` (those present, once each).

    Filtering a whole jobs table copies all of its columns (input and output files, raw
    words, extras, over 40 since issue 14); a metric reads a handful of them.
    """
    keep = [c for c in dict.fromkeys(columns) if c in frame.columns]
    out: pd.DataFrame = frame[keep][mask]
    return out


def _codes(series: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Integer codes and the values they stand for (categoricals: no string work)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy().astype(np.int64)
        return codes, list(series.cat.categories)
    factorized, uniques = pd.factorize(series, sort=True)
    return factorized.astype(np.int64), list(uniques)


def _check_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} needs the columns {missing}: pass the frames' jobs (or tasks) table"
        )


def _as_str(series: pd.Series) -> pd.Series:
    """Group keys as plain strings: categoricals would add empty groups everywhere."""
    out: pd.Series = (
        series.astype("string") if isinstance(series.dtype, pd.CategoricalDtype) else series
    )
    return out
