"""The plugin worker: runs one uploaded plugin in a sandboxed subprocess.

Standard library only — the sandbox copies this file, `bot/sdk.py` and
`bot/plugin_host/contract/describe.py` (the describe path builtins use too) into the
worker's private directory and starts it with `python -I -B`. It talks to the bot over two
dedicated pipe file descriptors, one JSON object per line, so that whatever the plugin
prints to stdout/stderr cannot corrupt the protocol (those go to the bot's log).

Requests:  {"id": 1, "op": "describe", "config": {...}}
           {"id": 2, "op": "call", "tool": "name", "arguments": {...}, "ctx": {...},
            "describe_config": {...}}  (what a fresh worker describes the plugin with)
Responses: {"id": 1, "ok": true, "value": ...} or {"id": 1, "ok": false, "error": "..."}
           or {"id": 2, "ok": false, "missing_tool": "name"}
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import json
import logging
import os
import resource
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

MODULE_NAME = "_bot_uploaded_plugin"


def apply_limits(limits: dict[str, int]) -> None:
    """Resource limits, set before any plugin code runs."""
    table = {"memory_bytes": resource.RLIMIT_AS, "cpu_seconds": resource.RLIMIT_CPU,
             "open_files": resource.RLIMIT_NOFILE, "file_bytes": resource.RLIMIT_FSIZE,
             "processes": resource.RLIMIT_NPROC}
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for key, which in table.items():
        value = limits.get(key)
        if value:
            resource.setrlimit(which, (value, value))


class MissingTool(Exception):
    """A call of a tool the plugin's get_tools(config) does not return (any more)."""


class Plugin:
    def __init__(self, entry: str) -> None:
        self.entry = entry
        self.module: Any = None
        self.handlers: dict[str, Any] = {}

    def load(self, config: dict[str, Any]) -> dict[str, Any]:
        """Import the plugin and describe it as plain JSON data for the bot to validate,
        with the same `describe_module` the bot uses for its builtins."""
        from bot.plugin_host.contract.describe import describe_exception, describe_module

        package = os.path.isdir(self.entry)
        path = os.path.join(self.entry, "__init__.py") if package else self.entry
        spec = importlib.util.spec_from_file_location(
            MODULE_NAME, path, submodule_search_locations=[self.entry] if package else None)
        if spec is None or spec.loader is None:
            return {"import_error": f"cannot import {os.path.basename(path)}"}
        module = importlib.util.module_from_spec(spec)
        sys.modules[MODULE_NAME] = module
        try:
            spec.loader.exec_module(module)
        except (Exception, SystemExit) as exc:
            return {"import_error": describe_exception(exc)}
        self.module = module
        described, self.handlers = describe_module(module, config)
        return described


class Worker:
    def __init__(self, plugin: Plugin, fd_out: int) -> None:
        self.plugin = plugin
        self.out = os.fdopen(fd_out, "w", encoding="utf-8", buffering=1)
        self.write_lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="plugin")
        self.loop = asyncio.new_event_loop()

    def send(self, message: dict[str, Any]) -> None:
        try:
            line = json.dumps(message, ensure_ascii=False, default=str)
        except (TypeError, ValueError) as exc:
            line = json.dumps({"id": message.get("id"), "ok": False,
                               "error": f"result is not JSON-serialisable: {exc}"})
        except RecursionError:  # answered at once, not at the tool's timeout
            line = json.dumps({"id": message.get("id"), "ok": False,
                               "error": "the result is nested too deeply to send: return "
                                        "flatter data"})
        with self.write_lock:
            self.out.write(line + "\n")

    async def handle(self, request: dict[str, Any]) -> None:
        rid = request.get("id")
        try:
            if request.get("op") == "describe":
                value = self.plugin.load(request.get("config") or {})
            elif request.get("op") == "call":
                value = await self.call(request)
            else:
                raise ValueError(f"unknown op {request.get('op')!r}")
        except MissingTool as exc:
            self.send({"id": rid, "ok": False, "missing_tool": str(exc)})
        except (Exception, SystemExit) as exc:
            from bot.plugin_host.contract.describe import (
                describe_exception,  # the sandbox's copies,
            )
            from bot.sdk import ToolFailure  # on sys.path since main()

            own_words = isinstance(exc, ToolFailure) and exc.verbatim
            if not own_words:
                logging.getLogger("plugin").exception("tool call failed")
            self.send({"id": rid, "ok": False, "plain": own_words,
                       "error": exc.text if isinstance(exc, ToolFailure)
                       else describe_exception(exc)})
        else:
            self.send({"id": rid, "ok": True, "value": value})

    async def call(self, request: dict[str, Any]) -> Any:
        if self.plugin.module is None:  # a fresh worker: described as the bot described it
            described = self.plugin.load(request.get("describe_config") or {})
            if "import_error" in described:
                raise RuntimeError(f"the plugin failed to import: {described['import_error']}")
        handler = self.plugin.handlers.get(request["tool"])
        if handler is None:  # its get_tools(config) no longer returns it: the bot says so
            raise MissingTool(request["tool"])
        kwargs = dict(request.get("arguments") or {})
        if request.get("wants_ctx"):
            kwargs["ctx"] = make_context(request.get("ctx") or {})
        if inspect.iscoroutinefunction(handler):
            return await handler(**kwargs)
        result = await self.loop.run_in_executor(self.pool, lambda: handler(**kwargs))
        return await result if inspect.isawaitable(result) else result

    def serve(self, fd_in: int) -> None:
        reader = threading.Thread(target=self._read, args=(fd_in,), daemon=True)
        reader.start()
        self.loop.run_forever()

    def _read(self, fd_in: int) -> None:
        with os.fdopen(fd_in, "r", encoding="utf-8") as stream:
            for line in stream:
                try:
                    request = json.loads(line)
                except json.JSONDecodeError:
                    continue
                asyncio.run_coroutine_threadsafe(self.handle(request), self.loop)
        os._exit(0)  # the bot closed the pipe: it wants us gone


def make_context(data: dict[str, Any]) -> Any:
    from bot.sdk import ToolContext

    return ToolContext(user=data.get("user"), channel=data.get("channel"),
                       thread_ts=data.get("thread_ts"), run_id=data.get("run_id"),
                       plugin=data.get("plugin"), config=data.get("config") or {},
                       logger=logging.getLogger(f"plugin.{data.get('plugin')}"))


def main() -> None:
    config = json.loads(sys.argv[1])
    apply_limits(config.get("limits", {}))
    sys.path.insert(0, config["sdk_dir"])
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    worker = Worker(Plugin(config["entry"]), config["fd_out"])
    worker.send({"hello": 1})  # the sandbox started us: failures from here on are the plugin's
    worker.serve(config["fd_in"])


if __name__ == "__main__":
    main()
