"""`bot run` as a real process: free ports, waiting for one, signed events posted to it,
starting it with its log kept, stopping it, and finding processes by command line."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tests.fakes.slack_server import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, sign


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)


def mention_body(event_id: str) -> str:
    return json.dumps({"type": "event_callback", "event_id": event_id, "team_id": "T0TEST",
                       "api_app_id": "A0TEST", "event": {
                           "type": "app_mention", "user": "U1", "text": "<@UBOT> hi",
                           "ts": "1700000000.000100", "channel": "C1"}})


def post_event(port: int, body: str) -> Any:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/slack/events",
                                     data=body.encode(),
                                     headers={"Content-Type": "application/json",
                                              **sign(body)})
    return urllib.request.urlopen(request, timeout=10)


def run_bot(env: dict[str, str], *args: str, stdin: str | None = None,
            lines: list[str] | None = None, cwd: Path | None = None,
            timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """`bot ARGS…` run to its end, its output captured as text; `lines` (or `stdin`) typed
    in, as at the console. Its stdin is never the test runner's (an empty pipe if nothing
    is typed), so a question it asks ends at EOF instead of waiting."""
    typed = "".join(f"{line}\n" for line in lines) if lines is not None else stdin or ""
    return subprocess.run([sys.executable, "-m", "bot", *args], env=env, text=True,
                          input=typed, capture_output=True, timeout=timeout, cwd=cwd)


def start_logged(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`bot run` with its stderr appended to `log` (a pipe nobody drains could fill and
    block it)."""
    with open(log, "ab") as stream:
        return subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env,
                                stdout=subprocess.DEVNULL, stderr=stream)


def stop(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM) -> int:
    """Signal a `bot run` (if it still runs) and its exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
    return proc.wait(timeout=30)


def processes_with(argv_tail: list[str]) -> list[str]:
    tail = "\0".join(argv_tail) + "\0"
    return [line for line in all_cmdlines() if line == tail or line.endswith("\0" + tail)]

def all_cmdlines() -> list[str]:
    """Every process's command line, NUL-separated (processes may vanish meanwhile)."""
    lines = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                lines.append((entry / "cmdline").read_bytes().decode(errors="replace"))
            except OSError:
                continue
    return lines


class BotProcesses:
    """Starts `bot run` as a real process against the fakes (the `bot_process` fixture):
    `env` builds its environment, `start` launches it; every one still running when the
    test ends is stopped (SIGTERM, then SIGKILL), so no test leaves a bot behind."""

    def __init__(self, base: dict[str, str], slack_url: str, openai_url: str,
                 openai_key: str) -> None:
        self.base = base
        self.slack_url, self.openai_url, self.openai_key = slack_url, openai_url, openai_key
        self.started: list[subprocess.Popen[Any]] = []

    def env(self, *, socket: bool = False, **settings: str) -> dict[str, str]:
        """HTTP mode, or Socket Mode (its probes on PORT), on a free PORT (its value is in
        the result); the model is the fake; `settings` (e.g. LOG_LEVEL="DEBUG") on top."""
        env = self.base | {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": self.slack_url,
                           "OPENAI_BASE_URL": self.openai_url,
                           "OPENAI_API_KEY": self.openai_key, "PORT": str(free_port())}
        env |= {"SLACK_APP_TOKEN": APP_TOKEN} if socket else {
            "SLACK_SIGNING_SECRET": SIGNING_SECRET}
        return env | settings

    def start(self, env: dict[str, str], *, log: Path | None = None,
              wait: bool = True) -> subprocess.Popen[Any]:
        """`bot run` with `env`: its stderr piped as text, or appended to `log`; with a
        PORT, returned once it listens (`wait`)."""
        proc: subprocess.Popen[Any]
        if log is None:
            proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, text=True,
                                    stderr=subprocess.PIPE)
        else:
            proc = start_logged(env, log)
        self.started.append(proc)
        if wait and "PORT" in env and "SLACK_SIGNING_SECRET" in env:
            wait_for_port(int(env["PORT"]))
        return proc

    def stop_all(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

