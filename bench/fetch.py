"""Benchmark: fetching jobs from the simulator at 20 ms latency.

Compares, in one run against one simulator process:
- a sequential ``requests.get`` loop (the baseline users write by hand);
- ``Client.fetch_jobs`` at concurrency 8 / 32 / 64, next to the bound
  ``concurrency / latency``;
- a full ``Client.iter_jobs`` walk of the listing;
- ``read_jobs`` end to end (the walk, or the fetch by ID, converted piece by piece as the
  jobs arrive), next to the same client's bare rate measured just before it (issue 14:
  target >= 90 %);
- how late the simulator itself answers: the round trip of plain GETs on one raw socket
  minus the stated latency (what no client can win back).

Run: ``.venv/bin/python bench/fetch.py`` (prints a Markdown table).
"""

from __future__ import annotations

import argparse
import socket
import statistics
import time

import requests

from bench._common import markdown_table, simulator_process
from ittybit_frames import Client, read_jobs

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
        rows += _read_jobs_rows(url, key, ids[: args.fetch], sequential)
        rows.append(_simulator_lateness(url, key, ids[: args.sequential]))
    print(
        markdown_table(
            ["what", "in flight", "jobs/s", "bound (in flight or page)/latency", "vs baseline"],
            rows,
        )
    )


def _read_jobs_rows(url: str, key: str, ids: list[str], sequential: float) -> list[list[str]]:
    """``read_jobs`` end to end next to the same client's bare walk / fetch, interleaved."""
    rows = []
    with Client(key, base_url=url, progress=False, concurrency=32) as client:
        for what, bare, full in (
            (
                "listing",
                lambda: sum(1 for _ in client.iter_jobs(page_size=PAGE)),
                lambda: len(read_jobs(client=client)),
            ),
            (
                f"{len(ids):,} IDs",
                lambda: len(client.fetch_jobs(ids).jobs),
                lambda: len(read_jobs(ids, client=client)),
            ),
        ):
            rates: dict[str, list[float]] = {"bare": [], "full": []}
            for _ in range(2):  # A/B/A/B: the machine drifts
                for name, run in (("bare", bare), ("full", full)):
                    t = time.perf_counter()
                    n = run()
                    rates[name].append(n / (time.perf_counter() - t))
            bare_rate, full_rate = max(rates["bare"]), max(rates["full"])
            rows.append(
                [
                    f"`read_jobs` end to end, {what} (vs bare: {bare_rate:,.0f} jobs/s)",
                    32 if "IDs" in what else 1,
                    f"{full_rate:,.0f}",
                    f"{full_rate / bare_rate:.0%} of the bare fetch",
                    f"{full_rate / sequential:.1f}x",
                ]
            )
    return rows


def _simulator_lateness(url: str, key: str, ids: list[str]) -> list[str]:
    """Round trips of plain keep-alive GETs on one raw socket, less the stated latency:
    the time the simulator (and the loopback) adds, which no client can win back."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    late = []
    with socket.create_connection((host, int(port))) as sock:
        for jid in ids:
            request = f"GET /jobs/{jid} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\r\n"
            t = time.perf_counter()
            sock.sendall(request.encode())
            answer = b""
            while b"\r\n\r\n" not in answer:
                answer += sock.recv(65536)
            head, _, body = answer.partition(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            while len(body) < length:
                body += sock.recv(65536)
            late.append((time.perf_counter() - t) * 1000 - LATENCY_MS)
    cuts = statistics.quantiles(late, n=100)
    return [
        f"simulator's answers over its stated {LATENCY_MS:.0f} ms ({len(late)} GETs on one "
        "raw socket; p50 / p90 / p99)",
        "1",
        "",
        f"{cuts[49]:.2f} / {cuts[89]:.2f} / {cuts[98]:.2f} ms",
        "",
    ]


if __name__ == "__main__":
    main()
