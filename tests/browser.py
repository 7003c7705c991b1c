"""Headless Chromium for the report tests: find it, run it, and drive it over the DevTools
protocol when a command-line flag is not enough (printing with "background graphics" off, as a
reader's print dialog does by default).

The protocol runs over --remote-debugging-pipe (JSON messages ended by NUL on the browser's file
descriptors 3 and 4): no port, no network, no client library.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium() -> str:
    """The chromium on PATH, installed first by scripts/install-chromium.sh when we are root."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    script = ROOT / "scripts" / "install-chromium.sh"
    if hasattr(os, "geteuid") and os.geteuid() == 0 and script.exists():
        done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=900)
        found = shutil.which("chromium")
        if found:
            return found
        pytest.skip(f"chromium could not be installed: {done.stderr.strip()[-300:]}")
    pytest.skip("chromium is not installed and this is not root (run scripts/install-chromium.sh as root)")


def run(browser: str, profile: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=180, env=env)


class DevTools:
    """One headless browser driven over the DevTools protocol."""

    def __init__(self, browser: str, profile: Path):
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()

        def as_fds_3_and_4() -> None:  # in the child; os.pipe's descriptors are close-on-exec
            a, b = os.dup(to_browser), os.dup(from_browser)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.process = subprocess.Popen(
            [browser, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            preexec_fn=as_fds_3_and_4, close_fds=False, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._id = 0
        self._events: list[dict[str, Any]] = []

    def _message(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._read, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._message()
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]
            self._events.append(answer)

    def _wait(self, method: str) -> None:
        for i, event in enumerate(self._events):
            if event.get("method") == method:
                del self._events[i]
                return
        while self._message().get("method") != method:
            pass

    def open(self, url: str) -> str:
        """Load a page in a new tab; its session id."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Page.enable", session=session)
        self.send("Page.navigate", {"url": url}, session=session)
        self._wait("Page.loadEventFired")
        return session

    def print_pdf(self, url: str) -> bytes:
        """The page printed as a reader would: the page's own @page size and margins, no browser
        header or footer, and background graphics off (the print dialog's default)."""
        session = self.open(url)
        result = self.send("Page.printToPDF", {"printBackground": False, "preferCSSPageSize": True,
                                               "displayHeaderFooter": False}, session=session)
        return base64.b64decode(result["data"])

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (RuntimeError, OSError):
            self.process.kill()
        self.process.wait(timeout=60)
        os.close(self._write)
        os.close(self._read)
