"""Session 10's Spark defect: ``tz=`` is checked as the pandas engine checks it (one
rule, in :mod:`ittybit_frames.rules`), before Spark is asked anything: an unknown zone
is the same one-line ``ValueError``, not a JVM error half-way through a plan."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import ittybit_frames as itf
from ittybit_frames import metrics
from tests.test_engines import lake_path  # noqa: F401  (module fixture)

pytestmark = pytest.mark.slow

BAD_ZONES = ["Europe/Berln", "utc+1", "", "Europe/"]


def _spark_module() -> Any:
    from ittybit_frames import spark as itf_spark

    return itf_spark


CALLS: dict[str, Callable[[Any, Any, str], Any]] = {
    "throughput": lambda m, jobs, tz: m.throughput(jobs, freq="1h", tz=tz),
    "failure_rate": lambda m, jobs, tz: m.failure_rate(jobs, freq="1D", tz=tz),
    "failure_rate_no_freq": lambda m, jobs, tz: m.failure_rate(jobs, tz=tz),
    "in_flight": lambda m, jobs, tz: m.in_flight(jobs, freq="1h", tz=tz),
    "in_flight_peak": lambda m, jobs, tz: m.in_flight_peak(jobs, tz=tz),
}


class _Untouchable:
    """Jobs that fail the test if the function asks them anything (Spark would run)."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"Spark was asked for {name!r} before tz was checked")

    def __getitem__(self, key: Any) -> Any:
        raise AssertionError(f"Spark was asked for {key!r} before tz was checked")


def _pandas_message(jobs: Any, name: str, tz: str) -> str:
    """The pandas engine's error (its peak is ``in_flight(...).attrs``)."""
    call = CALLS["in_flight" if name == "in_flight_peak" else name]
    with pytest.raises(ValueError) as info:
        call(metrics, jobs, tz)
    return str(info.value)


def _collected(name: str, jobs: Any, tz: str) -> Any:
    """The Spark result, run to the end (a DataFrame is lazy: collected here)."""
    result = CALLS[name](_spark_module(), jobs, tz)
    return result.collect() if hasattr(result, "collect") else result


@pytest.mark.parametrize("tz", BAD_ZONES)
@pytest.mark.parametrize("name", sorted(CALLS))
def test_an_unknown_zone_is_refused_before_spark_runs(
    lake_path: Path,  # noqa: F811
    name: str,
    tz: str,
) -> None:
    pytest.importorskip("pyspark")
    expected = _pandas_message(itf.read_parquet(lake_path).jobs, name, tz)
    with pytest.raises(ValueError) as info:
        CALLS[name](_spark_module(), _Untouchable(), tz)
    assert str(info.value) == expected
    assert "\n" not in expected and "is not a time zone" in expected


@pytest.mark.parametrize("name", sorted(CALLS))
def test_an_unknown_zone_on_a_real_lake_is_the_pandas_error(
    spark: Any,
    lake_path: Path,  # noqa: F811
    name: str,
) -> None:
    jobs, _ = _spark_module().read_lake(spark, str(lake_path))
    expected = _pandas_message(itf.read_parquet(lake_path).jobs, name, "Europe/Berln")
    with pytest.raises(ValueError) as info:
        _collected(name, jobs, "Europe/Berln")
    assert str(info.value) == expected


def test_a_known_zone_still_runs(spark: Any, lake_path: Path) -> None:  # noqa: F811
    jobs, _ = _spark_module().read_lake(spark, str(lake_path))
    rows = _spark_module().throughput(jobs, freq="1D", tz="Europe/Berlin").collect()
    assert sum(r["jobs"] for r in rows) == int(
        metrics.throughput(itf.read_parquet(lake_path).jobs, freq="1D", tz="Europe/Berlin")[
            "jobs"
        ].sum()
    )
