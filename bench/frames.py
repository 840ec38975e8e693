"""Benchmark: payloads -> DataFrames, three ways, from the same NDJSON bytes, on three
histories: the simulator's default (current API shape), its older-API mode
(``generate_history(generation="older")``: ISO timestamps, ``created``/``updated``, older
words, string errors, envelopes) and a mix of every shape (``generation="mix"``).

1. ``to_frames`` (this package: DuckDB's JSON reader for lines of the current shape,
   Python for the rest), with its default threads and with one thread;
2. the naive pipeline users write: ``json.loads`` + ``pandas.json_normalize`` for jobs
   and for tasks (``record_path="tasks"``) + ``to_datetime``;
3. a pure pyarrow pipeline, ``pyarrow.json.read_json`` + list explode: the practical
   speed limit. It needs an explicit schema that leaves ``error`` out, because pyarrow's
   type inference fails on a field that is sometimes a string and sometimes an object.
   It reads the current shape only, so it runs on the default history only.

Each runs in child processes of its own (so each peak RSS is its own), in ``--rounds``
rounds taken in turn, so that the machine's drift (+-20 % over minutes on a small VM) hits
the baselines and the fast pipelines alike; the median of the rounds is kept. A fast
pipeline runs ``--repeat`` times per process (median kept), a naive one once (it takes
a minute). Every child imports pandas before any clock starts.
Run: ``.venv/bin/python -m bench.frames [--jobs 100000] [--repeat 3] [--rounds 3]
[--histories default older mix]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import markdown_table


def _peak_rss_mb() -> float:
    """Peak RSS of this process."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_to_frames(path: str, workers: int | None = None) -> tuple[int, float]:
    from ittybit_frames import to_frames

    data = Path(path).read_bytes()
    t = time.perf_counter()
    frames = to_frames(data, workers=workers)
    elapsed = time.perf_counter() - t
    assert frames.tasks["created_at"].dtype == "datetime64[ms, UTC]"
    return len(frames.tasks), elapsed


def run_to_frames_1(path: str) -> tuple[int, float]:
    return run_to_frames(path, workers=1)


def run_to_frames_dicts(path: str) -> tuple[int, float]:
    """From parsed dicts, as the client hands them over (parsing not timed)."""
    import orjson

    from ittybit_frames import to_frames

    records = [orjson.loads(line) for line in Path(path).read_bytes().splitlines()]
    t = time.perf_counter()
    frames = to_frames(records)
    return len(frames.tasks), time.perf_counter() - t


def run_naive_dicts(path: str) -> tuple[int, float]:
    """The naive pipeline from parsed dicts (parsing not timed)."""
    import json

    records = [json.loads(line) for line in Path(path).read_bytes().splitlines()]
    return _naive(records, time.perf_counter())


def run_naive(path: str) -> tuple[int, float]:
    import json

    data = Path(path).read_bytes()
    t = time.perf_counter()
    records = [json.loads(line) for line in data.splitlines()]
    return _naive(records, t)


def _naive(records: list[Any], t: float) -> tuple[int, float]:
    import pandas as pd

    # What a user writes for the older shapes too: open single-object envelopes.
    records = [r["data"] if "id" not in r and "data" in r else r for r in records]
    jobs = pd.json_normalize(records, max_level=1)
    tasks = pd.json_normalize(
        records, record_path="tasks", meta=["id", "kind", "status"], meta_prefix="job_", max_level=1
    )
    for frame in (jobs, tasks):
        for col in _STAMPS:
            if col in frame:
                frame[col] = _naive_time(frame[col])
    elapsed = time.perf_counter() - t
    return len(tasks), elapsed


_STAMPS = ("created_at", "created", "started_at", "finished_at", "updated_at", "updated")


def _naive_time(column: Any) -> Any:
    """Milliseconds (the current shape: the plain call, as before), else numbers in ms
    or s and ISO-8601 text, each to UTC."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(column):
        return pd.to_datetime(column, unit="ms", utc=True)
    number = pd.to_numeric(column, errors="coerce")
    number = number.where(number >= 1e11, number * 1000)
    text = column.where(number.isna())
    iso = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    return pd.to_datetime(number, unit="ms", utc=True).fillna(iso)


def run_pyarrow(path: str) -> tuple[int, float]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj

    file_ = pa.struct(
        [
            ("url", pa.string()),
            ("kind", pa.string()),
            ("format", pa.string()),
            ("width", pa.int64()),
            ("height", pa.int64()),
            ("duration", pa.float64()),
            ("filesize", pa.int64()),
            ("bitrate", pa.int64()),
            ("fps", pa.float64()),
            ("codecs", pa.struct([("video", pa.string()), ("audio", pa.string())])),
        ]
    )
    task = pa.struct(
        [
            ("id", pa.string()),
            ("kind", pa.string()),
            ("status", pa.string()),
            ("progress", pa.int64()),
            ("input", pa.struct([("url", pa.string())])),
            ("output", file_),
            ("created_at", pa.int64()),
            ("started_at", pa.int64()),
            ("finished_at", pa.int64()),
            ("updated_at", pa.int64()),
        ]
    )
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("kind", pa.string()),
            ("status", pa.string()),
            ("input", pa.string()),
            ("output", pa.string()),
            ("created_at", pa.int64()),
            ("started_at", pa.int64()),
            ("finished_at", pa.int64()),
            ("updated_at", pa.int64()),
            ("tasks", pa.list_(task)),
        ]
    )
    t = time.perf_counter()
    table = pj.read_json(
        path,
        parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
    )
    flat = pc.list_flatten(table["tasks"])
    parents = pc.list_parent_indices(table["tasks"])
    columns: dict[str, Any] = {"job_id": pc.take(table["id"], parents)}
    for field in task:
        part = pc.struct_field(flat, field.name)
        if pa.types.is_struct(field.type):
            for sub in field.type:
                columns[f"{field.name}_{sub.name}"] = pc.struct_field(part, sub.name)
        else:
            columns[field.name] = part
    tasks = pa.table(columns)
    for col in ("created_at", "started_at", "finished_at", "updated_at"):
        tasks = tasks.set_column(
            tasks.schema.get_field_index(col), col, tasks[col].cast(pa.timestamp("ms", tz="UTC"))
        )
    jobs_df = table.drop_columns(["tasks"]).to_pandas()
    tasks_df = tasks.to_pandas(types_mapper=pd_types(), coerce_temporal_nanoseconds=False)
    elapsed = time.perf_counter() - t
    assert len(jobs_df)
    return len(tasks_df), elapsed


def pd_types() -> Any:
    import pandas as pd
    import pyarrow as pa

    return {pa.string(): pd.StringDtype(), pa.int64(): pd.Int64Dtype()}.get


def _child(name: str, path: str, repeat: int, queue: Any) -> None:
    import pandas  # noqa: F401  (imported here: no pipeline's clock counts the import)

    runs = [globals()[name](path) for _ in range(repeat)]
    rows = runs[0][0]
    queue.put((rows, statistics.median(elapsed for _, elapsed in runs), _peak_rss_mb()))


def measure(name: str, path: str, repeat: int = 3) -> tuple[int, float, float]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(name, path, repeat, queue))
    proc.start()
    while True:
        try:
            result = queue.get(timeout=5)
            break
        except Exception:
            if not proc.is_alive():
                raise RuntimeError(f"{name} failed (exit code {proc.exitcode})") from None
    proc.join()
    return result  # type: ignore[no-any-return]


_LABELS = {
    "run_naive": "naive: json.loads + json_normalize (baseline)",
    "run_pyarrow": "pure pyarrow read_json + explode (speed limit, drops `error`)",
    "run_to_frames": "`to_frames` (all columns, drift handling, problems)",
    "run_to_frames_1": "`to_frames(..., workers=1)` (one thread)",
    "run_naive_dicts": "naive, from parsed dicts (baseline for the row below)",
    "run_to_frames_dicts": "`to_frames`, from parsed dicts as the client returns them",
}
_GENERATION = {"default": "current", "older": "older", "mix": "mix"}


def _bench(path: str, with_arrow: bool, repeat: int, rounds: int) -> list[list[str]]:
    """One history: every pipeline, the table rows."""
    slow = ("run_naive", "run_naive_dicts")
    fast = (
        *(("run_pyarrow",) if with_arrow else ()),
        "run_to_frames",
        "run_to_frames_1",
        "run_to_frames_dicts",
    )
    runs: dict[str, list[tuple[int, float, float]]] = {}
    # Every pipeline in every round, taken in turn, so that a drift in the machine's
    # speed (seen here: +-20 % over minutes) hits the baselines and the fast ones alike.
    for _ in range(rounds):
        for name in (*slow, *fast):
            runs.setdefault(name, []).append(measure(name, path, 1 if name in slow else repeat))
    order = [n for n in _LABELS if n in runs]
    results = {
        name: (
            runs[name][0][0],
            statistics.median(elapsed for _, elapsed, _ in runs[name]),
            max(rss for _, _, rss in runs[name]),
        )
        for name in order
    }
    rate = {name: n / elapsed for name, (n, elapsed, _) in results.items()}
    rows = []
    for name, (n, elapsed, rss) in results.items():
        baseline = rate["run_naive_dicts" if name.endswith("_dicts") else "run_naive"]
        arrow = f"{rate['run_pyarrow'] / rate[name]:.2f}x" if with_arrow else "-"
        rows.append(
            [
                _LABELS[name],
                f"{n:,}",
                f"{elapsed:.2f}",
                f"{rate[name]:,.0f}",
                f"{rate[name] / baseline:.1f}x",
                arrow,
                f"{rss:,.0f}",
            ]
        )
    return rows


def main() -> None:
    import orjson

    from ittybit_frames.simulator import generate_history

    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs per process of a fast pipeline; the median is kept",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of every pipeline, taken in turn (a fresh process each)",
    )
    parser.add_argument(
        "--histories", nargs="+", choices=list(_GENERATION), default=list(_GENERATION)
    )
    args = parser.parse_args()
    print(
        f"{args.jobs:,} jobs per history. Each pipeline runs in processes of its own,"
        f" in {args.rounds} rounds taken in turn (median of the rounds); the naive ones"
        f" once per process, the others {args.repeat} times (median kept). Peak"
        " RSS: the largest of a pipeline's processes. The pure pyarrow reader takes the"
        " current shape only: it runs on the default history.\n"
    )
    header = [
        "pipeline",
        "task rows",
        "seconds",
        "task rows/s",
        "vs naive",
        "pyarrow is faster by",
        "peak RSS MB",
    ]
    for history in args.histories:
        with tempfile.TemporaryDirectory() as tmp:
            path = str(Path(tmp) / "jobs.ndjson")
            jobs = generate_history(args.jobs, seed=0, generation=_GENERATION[history])
            with open(path, "wb") as fh:
                for job in jobs:
                    fh.write(orjson.dumps(job) + b"\n")
            del jobs
            size_mb = Path(path).stat().st_size / 1e6
            rows = _bench(path, history == "default", args.repeat, args.rounds)
        name = {"default": "default (current API shape)", "older": "older API", "mix": "mix"}
        print(f"History: {name[history]}, {size_mb:,.0f} MB of NDJSON.\n")
        print(markdown_table(header, rows))
        print()


if __name__ == "__main__":
    main()
