"""The result of a conversion: typed ``jobs``, ``tasks`` and ``problems`` frames."""

from __future__ import annotations

import html
import warnings
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pandas as pd
import pyarrow as pa

from ittybit_frames.errors import EmptyWindowWarning, empty_window_message
from ittybit_frames.schema import FAILURES, JOBS, PROBLEMS, TASKS, counted
from ittybit_frames.vocabulary import category, parse_window

__all__ = ["ArrowFrames", "JobFrames", "PolarsFrames"]


class ArrowFrames(NamedTuple):
    """The frames as Arrow tables of the pinned schema (:meth:`JobFrames.to_arrow`)."""

    jobs: pa.Table
    tasks: pa.Table
    problems: pa.Table
    failures: pa.Table | None


class PolarsFrames(NamedTuple):
    """The frames as Polars DataFrames (:meth:`JobFrames.to_polars`)."""

    jobs: Any
    tasks: Any
    problems: Any
    failures: Any


@dataclass
class JobFrames:
    """Jobs and tasks as typed DataFrames.

    Attributes
    ----------
    jobs : pandas.DataFrame
        One row per distinct job ID (see ``schema.JOBS``).
    tasks : pandas.DataFrame
        One row per task (see ``schema.TASKS``).
    problems : pandas.DataFrame
        One row per data oddity: ``job_id, task_id, column, problem, raw_value``.
    failures : pandas.DataFrame or None
        Jobs that could not be fetched (when the frames came from the API).
    """

    jobs: pd.DataFrame
    tasks: pd.DataFrame
    problems: pd.DataFrame
    failures: pd.DataFrame | None = None
    as_of: pd.Timestamp | None = field(default=None)

    def __len__(self) -> int:
        return len(self.jobs)

    def subset(
        self,
        *,
        kind: str | None = None,
        status: str | None = None,
        since: Any = None,
        until: Any = None,
        kind_raw: str | None = None,
    ) -> JobFrames:
        """Jobs of this kind/status created in ``[since, until)``, with their tasks.

        ``kind`` and ``status`` are categories (or any documented word of any API
        version, such as ``ready``); a word that is neither raises ``ValueError``
        listing the valid ones. ``kind_raw`` selects the jobs whose kind was sent as
        exactly this word (for words outside the categories).

        Returns a new JobFrames (``self`` when nothing is filtered out). A time window
        that matches no job of non-empty frames warns (:class:`EmptyWindowWarning`),
        naming the span the frames cover; ``since`` not before ``until`` is a
        ``ValueError`` (:class:`~ittybit_frames.errors.ConfigurationError`).
        """
        jobs = self.jobs
        keep = pd.Series(True, index=jobs.index)
        if kind is not None:
            keep &= jobs["kind"] == category(kind, field="kind")
        if status is not None:
            keep &= jobs["status"] == category(status, field="status")
        if kind_raw is not None:
            keep &= (jobs["kind_raw"] == kind_raw).fillna(False)
        lo, hi = parse_window(since, until)
        for bound, op in ((lo, "ge"), (hi, "lt")):
            if bound is not None:
                stamp = pd.Timestamp(bound, unit="ms", tz="UTC")
                keep &= getattr(jobs["created_at"], op)(stamp).fillna(False)
        if bool(keep.all()):
            return self
        kept = jobs[keep.to_numpy()].reset_index(drop=True)
        _warn_if_window_empty(kept, jobs, lo, hi)
        tasks = self.tasks[self.tasks["job_id"].isin(kept["job_id"])].reset_index(drop=True)
        return JobFrames(kept, tasks, self.problems, self.failures, self.as_of)

    def to_arrow(self, *, dictionary: bool = True) -> ArrowFrames:
        """Jobs, tasks, problems (and fetch failures) as ``pyarrow.Table`` s.

        Column for column the lake's schema (``schema.JOBS``, ``schema.TASKS``...):
        timestamps ``timestamp[ms, tz=UTC]``, status and kind dictionary-encoded
        (``dictionary=False``: plain strings, for tools that dislike dictionaries).
        Unpacks as ``jobs, tasks, problems, failures = frames.to_arrow()``.
        """
        failures = self.failures
        return ArrowFrames(
            JOBS.to_arrow(self.jobs, dictionary=dictionary),
            TASKS.to_arrow(self.tasks, dictionary=dictionary),
            PROBLEMS.to_arrow(self.problems, dictionary=dictionary),
            None if failures is None else FAILURES.to_arrow(failures, dictionary=dictionary),
        )

    def to_polars(self) -> PolarsFrames:
        """Jobs, tasks, problems (and fetch failures) as ``polars.DataFrame`` s.

        Built from :meth:`to_arrow`, so the types are the lake's (``Datetime("ms",
        "UTC")``, ``Categorical`` status and kind). Needs Polars (``pip install polars``).
        """
        try:
            import polars as pl  # noqa: PLC0415  (optional dependency)
        except ImportError:
            raise ImportError(
                "JobFrames.to_polars needs Polars: pip install polars (or use to_arrow())"
            ) from None
        tables = self.to_arrow()
        frames = [None if t is None else pl.from_arrow(t) for t in tables]
        return PolarsFrames(*frames)

    def to_parquet(self, path: Any, **options: Any) -> Any:
        """Write to a Parquet lake: see :func:`ittybit_frames.write_parquet`."""
        from ittybit_frames.lake import write_parquet  # noqa: PLC0415

        return write_parquet(self, path, **options)

    def _summary(self) -> dict[str, Any]:
        created = self.jobs["created_at"]
        span = (
            f"{created.min():%Y-%m-%d %H:%M} to {created.max():%Y-%m-%d %H:%M} UTC"
            if created.notna().any()
            else "no timestamps"
        )
        counts = self.jobs["status"].value_counts()
        return {
            "jobs": len(self.jobs),
            "tasks": len(self.tasks),
            "created": span,
            "status": ", ".join(f"{k} {v:,}" for k, v in counts.items() if v),
            "problems": len(self.problems),
            "fetch failures": 0 if self.failures is None else len(self.failures),
        }

    def __repr__(self) -> str:
        s = self._summary()
        return (
            f"JobFrames({counted(s['jobs'], 'job')}, {counted(s['tasks'], 'task')},"
            f" {counted(s['problems'], 'problem')};"
            f" created {s['created']})"
        )

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(f'{v:,}' if isinstance(v, int) else v)}"
            "</td></tr>"
            for k, v in self._summary().items()
        )
        return f"<table><caption>ittybit JobFrames</caption>{rows}</table>"


def _warn_if_window_empty(
    kept: pd.DataFrame, jobs: pd.DataFrame, since: float | None, until: float | None
) -> None:
    created = jobs["created_at"].dropna()
    if len(kept) or created.empty or (since is None and until is None):
        return
    first, last = (t.value / 1e6 for t in (created.min(), created.max()))
    message = empty_window_message(since, until, first, last, "the frames cover")
    warnings.warn(message, EmptyWindowWarning, stacklevel=3)
