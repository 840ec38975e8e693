"""Benchmark: fetching jobs from the simulator at 20 ms latency.

Compares, in one run against one simulator process:
- a sequential ``requests.get`` loop (the baseline users write by hand);
- ``Client.fetch_jobs`` at concurrency 8 / 32 / 64, next to the bound
  ``concurrency / latency``;
- a full ``Client.iter_jobs`` walk of the listing.

Run: ``.venv/bin/python bench/fetch.py`` (prints a Markdown table).
"""

from __future__ import annotations

import argparse
import time

import requests

from bench._common import markdown_table, simulator_process
from ittybit_frames import Client

LATENCY_MS = 20.0


PAGE = 100  # jobs per listing page: the walk's bound is one page per round trip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--fetch", type=int, default=4_000, help="IDs per fetch_jobs run")
    parser.add_argument("--sequential", type=int, default=150)
    args = parser.parse_args()
    with simulator_process("--jobs", str(args.jobs), "--latency-ms", str(LATENCY_MS)) as sim:
        url, key = sim["url"], sim["api_key"]
        with Client(key, base_url=url, progress=False) as client:
            t = time.perf_counter()
            listed = list(client.iter_jobs(page_size=PAGE))
            walk = len(listed) / (time.perf_counter() - t)
        ids = [j["id"] for j in listed]

        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        t = time.perf_counter()
        for jid in ids[: args.sequential]:
            session.get(f"{url}/jobs/{jid}", timeout=30).json()
        sequential = args.sequential / (time.perf_counter() - t)
        session.close()

        rows = [["sequential `requests.get` loop (baseline)", 1, f"{sequential:,.0f}", "", "1.0x"]]
        for conc in (8, 32, 64):
            bound = conc / (LATENCY_MS / 1000)
            with Client(key, base_url=url, progress=False, concurrency=conc) as client:
                t = time.perf_counter()
                result = client.fetch_jobs(ids[: args.fetch])
                rate = len(result.jobs) / (time.perf_counter() - t)
                assert result.failures.empty
            rows.append(
                [
                    "`fetch_jobs`",
                    conc,
                    f"{rate:,.0f}",
                    f"{bound:,.0f} ({rate / bound:.0%})",
                    f"{rate / sequential:.1f}x",
                ]
            )
        rows.append(
            [
                f"`iter_jobs` full walk ({len(listed):,} jobs, pages of 100)",
                1,
                f"{walk:,.0f}",
                f"{PAGE / (LATENCY_MS / 1000):,.0f} ({walk * LATENCY_MS / 1000 / PAGE:.0%})",
                f"{walk / sequential:.1f}x",
            ]
        )
    print(
        markdown_table(
            ["what", "in flight", "jobs/s", "bound (in flight or page)/latency", "vs baseline"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
