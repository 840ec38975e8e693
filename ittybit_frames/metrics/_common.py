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
