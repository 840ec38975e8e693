"""Open a page in headless Chromium and report what a reader would see go wrong.

A small Chrome DevTools Protocol client over aiohttp's websocket (aiohttp is already a
dependency): no Selenium, no Playwright, no driver binary. The browser runs with a fresh
profile, no network beyond loopback and no background services, and is killed at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

FLAGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
)


def chromium() -> str | None:
    """The Chromium binary on this machine, if any."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageReport:
    """What happened while the page loaded."""

    images: list[dict[str, Any]] = field(default_factory=list)  # src, complete, width
    console: list[str] = field(default_factory=list)  # error/warning console messages
    exceptions: list[str] = field(default_factory=list)  # uncaught script errors
    failed_requests: list[str] = field(default_factory=list)
    title: str = ""

    @property
    def broken_images(self) -> list[str]:
        return [i["src"][:80] for i in self.images if not (i["complete"] and i["width"] > 0)]


class _Session:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self.ids)
        await self.ws.send_str(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads((await self.ws.receive()).data)
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    async def wait_for(self, method: str) -> dict[str, Any]:
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            message = json.loads((await self.ws.receive()).data)
            self.events.append(message)
            if message.get("method") == method:
                return message


async def _inspect(endpoint: str, url: str) -> PageReport:
    async with aiohttp.ClientSession() as http:
        async with http.put(f"{endpoint}/json/new?about:blank") as answer:
            target = await answer.json(content_type=None)
        async with http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            page = _Session(ws)
            for domain in ("Page", "Runtime", "Log", "Network"):
                await page.call(f"{domain}.enable")
            await page.call("Page.navigate", url=url)
            await page.wait_for("Page.loadEventFired")
            images = await page.call(
                "Runtime.evaluate",
                expression="JSON.stringify([document.title, Array.from(document.images,"
                " i => ({src: i.currentSrc || i.src, complete: i.complete,"
                " width: i.naturalWidth}))])",
                returnByValue=True,
            )
            title, found = json.loads(images["result"]["value"])
            return _report(title, found, page.events)


def _report(title: str, images: list[dict[str, Any]], events: list[dict[str, Any]]) -> PageReport:
    out = PageReport(images=images, title=title)
    for event in events:
        params = event.get("params", {})
        method = event.get("method")
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning"):
            out.console.append(" ".join(str(a.get("value", "")) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"].get("level") in ("error", "warning"):
            out.console.append(params["entry"].get("text", ""))
        elif method == "Runtime.exceptionThrown":
            out.exceptions.append(params["exceptionDetails"].get("text", ""))
        elif method == "Network.loadingFailed":
            out.failed_requests.append(params.get("errorText", ""))
    return out


def open_page(path: Path, *, timeout: float = 60.0) -> PageReport:
    """Load ``path`` in headless Chromium and return what a reader would have seen."""
    binary = chromium()
    if binary is None:
        raise FileNotFoundError("no Chromium on this machine")
    with tempfile.TemporaryDirectory(prefix="itf-chromium-") as profile:
        proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            endpoint = _endpoint(proc)
            return asyncio.run(asyncio.wait_for(_inspect(endpoint, path.as_uri()), timeout))
        finally:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
            if proc.stderr is not None:
                proc.stderr.close()


def _endpoint(proc: subprocess.Popen[str]) -> str:
    """The DevTools HTTP endpoint, from the line Chromium prints when it listens."""
    assert proc.stderr is not None
    for line in proc.stderr:  # ends when Chromium exits
        found = re.search(r"DevTools listening on ws://([^/]+)/", line)
        if found:
            # Keep reading what it prints, so a full pipe never stalls the browser.
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return f"http://{found[1]}"
    raise RuntimeError(f"Chromium exited ({proc.wait()}) before listening")
