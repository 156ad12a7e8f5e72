"""WorkerHost: runs an uploaded plugin's tools in a sandboxed worker subprocess.

One worker per plugin, started on first use and reaped when idle. A call that times out
(the registry cancels it) kills the worker; the next call starts a fresh one. A worker that
dies, or breaks the protocol, fails its pending calls with an error — never the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import json
import logging
import os
import signal
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bot import messages
from bot.errors import PluginError, Problem
from bot.plugin_host.contract.protocol import ErrorKind, LoadedPlugin, ToolSpec
from bot.plugin_host.contract.schemas import DEFAULT_LIMITS, SchemaLimits
from bot.plugin_host.contract.validation import check_description
from bot.plugin_host.sandbox.confine import LaunchSpec, Sandbox, SandboxUnavailable, remove_tree
from bot.sdk import ToolContext, ToolError, ToolFailure

log = logging.getLogger(__name__)


class WorkerFault(ToolFailure):
    """A call that failed in the worker: `crashed` when the worker itself failed, `failed`
    when the handler raised."""

    def __init__(self, text: str, *, kind: ErrorKind = ErrorKind.CRASHED) -> None:
        super().__init__(text, kind=kind)


class WorkerProcess:
    """One live worker process and its protocol pipes."""

    def __init__(self, name: str, sandbox: Sandbox, spec: LaunchSpec,
                 proc: asyncio.subprocess.Process, reader: asyncio.StreamReader,
                 writer: asyncio.WriteTransport, max_line: int) -> None:
        self.name = name
        self.sandbox = sandbox
        self.ready = False  # the worker said hello: the sandbox started it
        self._reaped = False
        self._output: deque[str] = deque(maxlen=3)
        self.max_line = max_line
        self.spec = spec
        self.proc = proc
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._fault: str | None = None
        # a worker outlives the call that started it: its lines belong to no one run
        self._responses = asyncio.create_task(self._read_responses(),
                                              context=contextvars.Context())
        self._output_reader = asyncio.create_task(self._read_output(),
                                                  context=contextvars.Context())
        self._tasks = (self._responses, self._output_reader)

    @classmethod
    async def start(cls, sandbox: Sandbox, *, name: str, entry: Path, network: bool,
                    max_line: int, uid: int | None) -> WorkerProcess:
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        spec: LaunchSpec | None = None
        try:
            spec = sandbox.prepare(name=name, entry=entry, network=network, fd_in=req_r,
                                   fd_out=resp_w, uid=uid)
            kwargs: dict[str, Any] = {}
            if spec.user is not None:
                kwargs = {"user": spec.user, "group": spec.group, "extra_groups": []}
            async with sandbox.launching(spec.uid):
                proc = await asyncio.create_subprocess_exec(
                    *spec.argv, stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                    env=spec.env, cwd=spec.cwd, pass_fds=spec.pass_fds, process_group=0,
                    **kwargs)
        except BaseException:
            for fd in (req_r, req_w, resp_r, resp_w):
                os.close(fd)
            if spec is not None:
                remove_tree(spec.workdir)
            raise
        os.close(req_r)
        os.close(resp_w)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=max_line)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                     os.fdopen(resp_r, "rb", buffering=0))
        writer, _ = await loop.connect_write_pipe(asyncio.Protocol,
                                                  os.fdopen(req_w, "wb", buffering=0))
        log.debug("plugin %s worker started: pid %d (%s)", name, proc.pid, sandbox.kind)
        return cls(name, sandbox, spec, proc, reader, writer, max_line)

    @property
    def alive(self) -> bool:
        return self._fault is None and self.proc.returncode is None

    async def request(self, message: dict[str, Any]) -> dict[str, Any]:
        if not self.alive:
            if self._fault is None:  # it just died: let the reader say how (or that the
                with contextlib.suppress(TimeoutError):  # sandbox never started it)
                    await asyncio.wait_for(asyncio.shield(self._responses), 3)
            raise WorkerFault(self._fault or "the worker is not running")
        rid = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        try:
            line = json.dumps({"id": rid, **message}, ensure_ascii=False) + "\n"
            self._writer.write(line.encode())
            return await future
        finally:
            self._pending.pop(rid, None)

    async def kill(self) -> None:
        first, self._reaped = not self._reaped, True  # only the first kill reaps the uid
        async with self.sandbox.stopping(self.spec.uid if first else None):
            self._fault = self._fault or "the worker was stopped"
            self._kill_group()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.proc.wait(), 5)
            self._fail_all(self._fault or "the worker was stopped")
            self._writer.close()
            for task in self._tasks:
                task.cancel()
        if first:
            remove_tree(self.spec.workdir)

    async def _read_responses(self) -> None:
        while True:
            try:
                line = await self._reader.readline()
            except ValueError:
                await self._break(f"the plugin sent a protocol message over the "
                                  f"{self.max_line:,}-byte limit")
                return
            if not line:
                await self._break(await self._exit_text())
                return
            try:
                message = json.loads(line)
                if message == {"hello": 1} and not self.ready:
                    self.ready = True
                    continue
                future = self._pending.get(message["id"])
            except RecursionError:
                await self._break("the plugin sent a protocol message nested too deeply")
                return
            except (ValueError, KeyError, TypeError):
                await self._break("the plugin wrote something that is not a protocol "
                                  "message to the protocol pipe")
                return
            if future is not None and not future.done():
                future.set_result(message)

    async def _exit_text(self) -> str:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.proc.wait(), 2)
        code = self.proc.returncode
        if not self.ready:  # it never reached its own first line: the sandbox failed
            with contextlib.suppress(TimeoutError):  # its last words: read to the end
                await asyncio.wait_for(asyncio.shield(self._output_reader), 1)
            said = " / ".join(self._output) or f"exit code {code}"
            return messages.sandbox_failed_to_start(said[:300])
        if code is None:
            return "the worker closed its protocol pipe"
        signum = -code if code < 0 else code - 128 if code > 128 else 0
        if signum == signal.SIGKILL:
            return "the worker was killed (SIGKILL: memory or CPU limit reached?)"
        if signum:
            with contextlib.suppress(ValueError):
                return f"the worker was killed by {signal.Signals(signum).name}"
        return f"the worker process exited with code {code}"

    async def _break(self, reason: str) -> None:
        if self._fault is not None:  # already stopped on purpose
            return
        self._fault = reason
        log.warning("plugin %s worker failed: %s", self.name, reason)
        self._fail_all(reason)
        self._kill_group()

    def _kill_group(self) -> None:
        """SIGKILL the worker's process group (its children too). Never `proc.kill()` after
        it: Popen polls before signalling and would reap the child behind asyncio's back."""
        if self.proc.returncode is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        except PermissionError:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()

    def _fail_all(self, reason: str) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(WorkerFault(reason))

    async def _read_output(self) -> None:
        plugin_log = logging.getLogger(f"plugin.{self.name}")
        assert self.proc.stdout is not None
        buffer = b""
        while chunk := await self.proc.stdout.read(4096):
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                text = line[:2000].decode(errors="replace")
                self._output.append(text[:200])
                plugin_log.info("%s", text)
            if len(buffer) > 2000:
                plugin_log.info("%s", buffer[:2000].decode(errors="replace"))
                buffer = b""


class WorkerHost:
    """The `PluginHost` for uploaded plugins."""

    kind = "worker"

    def __init__(self, *, name: str, entry: Path, sandbox: Sandbox, network: bool,
                 probe_timeout: float = 10.0, idle_seconds: float = 300.0,
                 max_line: int = 4 * 2**20, expected_name: str | None = None,
                 uid: int | None = None, schema_limits: SchemaLimits = DEFAULT_LIMITS,
                 config: Mapping[str, Any] | None = None,
                 on_start: Callable[[str, str], None] | None = None) -> None:
        self.name = name
        self.on_start = on_start  # (plugin, "start" | "restart"): the metrics
        self.config = dict(config or {})  # what get_tools(config) sees at describe time
        self.schema_limits = schema_limits
        self.uid = uid
        self.entry = entry
        self.sandbox = sandbox
        self.network = network
        self.probe_timeout = probe_timeout
        self.idle_seconds = idle_seconds
        self.max_line = max_line
        self.expected_name = expected_name
        self._worker: WorkerProcess | None = None
        self._start_lock = asyncio.Lock()
        self._idle: asyncio.TimerHandle | None = None
        self._busy = 0

    @property
    def running(self) -> bool:
        return self._worker is not None and self._worker.alive

    @property
    def pid(self) -> int | None:
        return self._worker.proc.pid if self._worker else None

    async def load(self) -> LoadedPlugin:
        """Probe: import the plugin in a fresh worker and validate what it describes."""
        try:
            worker = await self._ensure_worker()
            response = await asyncio.wait_for(
                worker.request({"op": "describe", "config": dict(self.config)}),
                self.probe_timeout)
        except SandboxUnavailable as exc:
            raise PluginError(self.name, [Problem("sandbox", str(exc))]) from None
        except TimeoutError:
            await self.close()
            raise PluginError(self.name, [Problem("import", f"did not finish within "
                                          f"{self.probe_timeout:g} s (endless loop at "
                                          "import?)")]) from None
        except WorkerFault as exc:
            started = self._worker is not None and self._worker.ready
            await self.close()
            if not started:
                raise PluginError(self.name, [Problem("sandbox", exc.text)]) from None
            raise PluginError(self.name, [Problem("import", f"{exc.text} while loading "
                                          "the plugin (sys.exit or os._exit at import?)")]
                              ) from None
        if not response.get("ok"):
            raise PluginError(self.name, [Problem("worker", str(response.get("error")))])
        self._schedule_idle()  # a running plugin's worker, described again, stays for calls
        return await asyncio.to_thread(check_description, response["value"],  # never on the
                                       expected_name=self.expected_name,   # event loop
                                       limits=self.schema_limits)

    async def invoke(self, spec: ToolSpec, arguments: Mapping[str, Any],
                     ctx: ToolContext) -> Any:
        self._busy += 1
        self._cancel_idle()
        try:
            worker = await self._ensure_worker()
            message = {"op": "call", "tool": spec.name, "arguments": dict(arguments),
                       "wants_ctx": spec.wants_ctx, "describe_config": dict(self.config),
                       "ctx": {"user": ctx.user, "channel": ctx.channel,
                               "thread_ts": ctx.thread_ts, "run_id": ctx.run_id,
                               "plugin": ctx.plugin, "config": dict(ctx.config)}}
            try:
                response = await worker.request(message)
            except asyncio.CancelledError:  # the registry's timeout, or the run was stopped
                await self._discard(worker)
                raise
        finally:
            self._busy -= 1
            self._schedule_idle()
        if not response.get("ok"):
            if response.get("missing_tool"):
                log.warning("plugin %s no longer offers %s: its get_tools(config) returns "
                            "other tools with the settings it has now", self.name, spec.name)
                raise ToolError(messages.tool_no_longer_offered(self.name, spec.name))
            if response.get("plain"):  # the plugin raised ToolError: its own words
                raise ToolError(str(response.get("error")))
            raise WorkerFault(str(response.get("error")), kind=ErrorKind.FAILED)
        return response.get("value")

    async def close(self) -> None:
        self._cancel_idle()
        worker, self._worker = self._worker, None
        if worker is not None:
            await worker.kill()

    async def _ensure_worker(self) -> WorkerProcess:
        async with self._start_lock:
            died = self._worker is not None and not self._worker.alive
            if self._worker is not None and died:
                await self._worker.kill()
                self._worker = None
            if self._worker is None:
                self._worker = await WorkerProcess.start(
                    self.sandbox, name=self.name, entry=self.entry, network=self.network,
                    max_line=self.max_line, uid=self.uid)
                if self.on_start is not None:
                    self.on_start(self.name, "restart" if died else "start")
            return self._worker

    async def _discard(self, worker: WorkerProcess) -> None:
        if self._worker is worker:
            self._worker = None
        await worker.kill()

    def _schedule_idle(self) -> None:
        if self._busy == 0 and self._worker is not None and self.idle_seconds > 0:
            loop = asyncio.get_running_loop()
            self._idle = loop.call_later(self.idle_seconds,
                                         lambda: asyncio.ensure_future(self._reap()))

    def _cancel_idle(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    async def _reap(self) -> None:
        if self._busy == 0:
            log.info("plugin %s worker idle for %g s; stopping it", self.name,
                     self.idle_seconds)
            await self.close()
