"""A headless Chromium or Chrome found on the machine, driven over the DevTools pipe.

No browser is downloaded and no network port is opened: the browser runs with
`--remote-debugging-pipe` and speaks the Chrome DevTools Protocol over two
inherited file descriptors (3: our commands, 4: its answers), each message JSON
ended by a NUL byte. Pages are local files whose HTML forbids scripts.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError, UsageError

BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_SECONDS = 180


class BrowserError(ToolkitError):
    """The browser failed or stopped answering (exit 2: the HTML still prints by hand)."""


def find_browser() -> Path:
    """The browser to print with: `$CHROME`, else the first of `BROWSER_NAMES` on PATH.

    Raises:
        UsageError: if none is found, saying what to install and the way by hand.
    """
    named = os.environ.get("CHROME")
    candidates = [named] if named else list(BROWSER_NAMES)
    for name in candidates:
        found = shutil.which(name)
        if found:
            return Path(found)
    looked = f"$CHROME={named}" if named else "chromium, chromium-browser, google-chrome"
    raise UsageError(
        f"no headless Chromium or Chrome found (looked for {looked}); install one "
        "(Debian/Ubuntu: apt-get install chromium) or point $CHROME at it; or write "
        "--format html and print it from any browser: it is the same document"
    )


def _command(executable: Path, profile: str) -> list[str]:
    command = [
        str(executable),
        "--headless",
        "--remote-debugging-pipe",
        f"--user-data-dir={profile}",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-gpu",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-sync",
        "--mute-audio",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--no-sandbox")  # Chromium refuses to start as root otherwise
    return [*command, "about:blank"]


@dataclass
class Browser:
    """One headless browser process and the page it shows (use as a context manager).

    Example:
        >>> with Browser(find_browser()) as browser:  # doctest: +SKIP
        ...     browser.open(Path("report.html"), width=1280)
        ...     pdf = browser.print_pdf()
    """

    executable: Path
    _process: subprocess.Popen[bytes] | None = None
    _profile: tempfile.TemporaryDirectory[str] | None = None
    _to: Any = None
    _from: Any = None
    _next_id: int = 0
    _session: str | None = None
    _events: list[dict[str, Any]] = field(default_factory=list)
    _buffer: bytes = b""

    def __enter__(self) -> Browser:
        # the browser's helper processes may still write there as it is removed
        self._profile = tempfile.TemporaryDirectory(
            prefix="slido-browser-", ignore_cleanup_errors=True
        )
        ours_read, theirs_write = os.pipe()
        theirs_read, ours_write = os.pipe()
        self._process = subprocess.Popen(
            _command(self.executable, self._profile.name),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(3, 4),
            preexec_fn=lambda: _pipes_at_3_and_4(theirs_read, theirs_write),
        )
        os.close(theirs_read)
        os.close(theirs_write)
        self._to = os.fdopen(ours_write, "wb", buffering=0)
        self._from = os.fdopen(ours_read, "rb", buffering=0)
        return self

    def __exit__(self, *exc: object) -> None:
        for stream in (self._to, self._from):
            if stream is not None:
                stream.close()
        if self._process is not None:
            self._process.kill()
            self._process.wait()
        if self._profile is not None:
            self._profile.cleanup()
            if os.path.exists(self._profile.name):  # a helper wrote after the first pass
                time.sleep(0.2)
                shutil.rmtree(self._profile.name, ignore_errors=True)

    def version(self) -> str:
        """The browser's product and version, e.g. "HeadlessChrome/156.0.8078.114"."""
        return str(self.call("Browser.getVersion", {}, browser_level=True)["product"])

    def open(self, page: Path, width: int = 1280, height: int = 900) -> None:
        """Show a local file in a fresh tab `width` CSS pixels wide, and wait until it loads."""
        target = self.call("Target.createTarget", {"url": "about:blank"}, browser_level=True)
        attached = self.call(
            "Target.attachToTarget",
            {"targetId": target["targetId"], "flatten": True},
            browser_level=True,
        )
        self._session = attached["sessionId"]
        self.call("Page.enable", {})
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        self.call("Emulation.setDeviceMetricsOverride", metrics)
        self._events.clear()
        self.call("Page.navigate", {"url": page.resolve().as_uri()})
        self._wait_for("Page.loadEventFired")

    def call(self, method: str, params: dict[str, Any], browser_level: bool = False) -> Any:
        """Send one DevTools command and return its result (events meanwhile are kept)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if self._session and not browser_level:
            message["sessionId"] = self._session
        self._to.write(json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"the browser refused {method}: {answer['error']}")
                return answer.get("result", {})
            self._events.append(answer)

    def _wait_for(self, event: str) -> None:
        while not any(e.get("method") == event for e in self._events):
            self._events.append(self._read())

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._from], [], [], TIMEOUT_SECONDS)
            chunk = self._from.read(1 << 16) if ready else b""
            if not chunk:
                raise BrowserError(
                    f"the browser {self.executable} stopped answering; "
                    "print the HTML report from a browser instead"
                )
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        parsed: dict[str, Any] = json.loads(message)
        return parsed


def _pipes_at_3_and_4(read_fd: int, write_fd: int) -> None:
    """In the child: the browser reads commands on fd 3 and writes answers on fd 4."""
    high_read, high_write = os.dup(read_fd), os.dup(write_fd)  # neither may sit on 3 or 4
    os.dup2(high_read, 3)
    os.dup2(high_write, 4)
