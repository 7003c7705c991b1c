"""A real `certify serve` for the API and page tests: started as its own process on a free port,
waited for on /api/v1/health, stopped (by its own process id) when the tests are done."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, packs: Path, *extra: str, host: str = "127.0.0.1", env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # its own decision log, beside the pack folder (never the clone's data/)
        self.log_url = f"sqlite:///{packs.parent / f'decisions-{self.port}.sqlite'}"
        # and its own data folder (the batches kept), unless the test names one (to restart on it)
        data = [] if "--data-dir" in extra else ["--data-dir", str(packs.parent / f"data-{self.port}")]
        self.command = [sys.executable, str(ROOT / "cli.py"), "serve", "--host", host, "--port", str(self.port),
                        "--packs", str(packs), "--log", self.log_url, *data, *extra]
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[str] | None = None
        self.stderr = ""

    def start(self, wait: bool = True) -> "Server":
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        if not wait:
            return self
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError("certify serve ended: " + self.stderr)
            try:
                if httpx.get(self.url + "/api/v1/health", timeout=2,
                             headers=self.headers()).status_code in (200, 401):
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("certify serve did not answer within 60 s")

    def headers(self) -> dict[str, str]:
        token = self.env.get("CERTIFY_TOKEN")
        return {"Authorization": f"Bearer {token}"} if token else {}

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
        try:
            _, self.stderr = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, self.stderr = self.process.communicate(timeout=10)


def running(packs: Path, *extra: str, **kwargs: object) -> Iterator[Server]:
    server = Server(packs, *extra, **kwargs).start()  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()
