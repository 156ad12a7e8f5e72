"""The factory of sandboxed hosts for uploaded plugins, from the settings: the sandbox the
operator chose (detected once, lazily), each plugin's worker, and the install probe."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.errors import PluginError, Problem
from bot.plugin_host.contract.protocol import LoadedPlugin, Manifest
from bot.plugin_host.contract.schemas import SchemaLimits
from bot.plugin_host.sandbox.confine import Sandbox, WorkerLimits
from bot.plugin_host.sandbox.detect import Unavailable, detect_sandbox
from bot.plugin_host.sandbox.workers import WorkerHost

log = logging.getLogger(__name__)
MB = 2**20


def schema_limits(settings: Settings) -> SchemaLimits:
    """What every plugin's tool schemas must keep to: uploads' and MCP servers' alike."""
    return SchemaLimits(max_tools=settings.plugin_max_tools,
                        max_schema_bytes=settings.plugin_max_schema_kb * 1024)


def make_sandbox(settings: Settings) -> Sandbox | Unavailable:
    limits = WorkerLimits(memory_mb=settings.plugin_worker_memory_mb,
                          cpu_seconds=settings.plugin_worker_cpu_seconds,
                          open_files=settings.plugin_worker_max_open_files,
                          file_mb=settings.plugin_worker_max_file_mb,
                          processes=settings.plugin_worker_max_processes,
                          tmp_mb=settings.plugin_worker_tmp_mb)
    sandbox = detect_sandbox(mode=settings.plugin_sandbox, python=settings.plugin_python,
                             limits=limits, uid_range=settings.sandbox_uid_range)
    (log.error if isinstance(sandbox, Unavailable) else log.info)("%s", sandbox.describe())
    return sandbox


class WorkerFactory:
    """Builds the sandboxed hosts for uploaded plugins, and the install-time probe.

    The sandbox is detected (two short subprocesses) the first time it is needed, so
    commands that never run uploaded code do not pay for it; `bot run` and `bot console`
    detect it at start to log which one is in force.
    """

    def __init__(self, settings: Settings, *,
                 on_start: Callable[[str, str], None] | None = None) -> None:
        self.settings = settings
        self.on_start = on_start  # a worker process started: the metrics
        self._sandbox: Sandbox | Unavailable | None = None

    @property
    def sandbox(self) -> Sandbox | Unavailable:
        if self._sandbox is None:
            self._sandbox = make_sandbox(self.settings)
        return self._sandbox

    def kind(self) -> str | None:
        """The sandbox uploads run in here, or None when they cannot run."""
        sandbox = self.sandbox
        return sandbox.kind if isinstance(sandbox, Sandbox) else None

    def _make(self, name: str, entry: Path, *, network: bool, idle: float, uid: int | None,
              expected_name: str | None = None, config: Mapping[str, Any] | None = None,
              counted: bool = True) -> WorkerHost:
        sandbox = self.sandbox
        if isinstance(sandbox, Unavailable):
            raise PluginError(name, [Problem("sandbox", sandbox.describe())])
        return WorkerHost(name=name, entry=entry, sandbox=sandbox, network=network,
                          probe_timeout=self.settings.plugin_probe_timeout, idle_seconds=idle,
                          max_line=int(self.settings.plugin_max_response_mb * MB),
                          expected_name=expected_name, uid=uid, config=config,
                          on_start=self.on_start if counted else None,
                          schema_limits=schema_limits(self.settings))

    def host(self, manifest: Manifest, entry: Path, uid: int | None) -> WorkerHost:
        """The running plugin's host: its workers describe it as the install probe did,
        with its PLUGIN_CONFIG entry (the settings per channel reach each call instead)."""
        return self._make(manifest.name, entry, network="network" in manifest.permissions,
                          idle=self.settings.plugin_worker_idle_seconds, uid=uid,
                          config=self.settings.plugin_defaults().get(manifest.name, {}))

    async def probe(self, name: str | None, entry: Path) -> LoadedPlugin:
        sandbox = self.sandbox
        uid = sandbox.probe_uid() if isinstance(sandbox, Sandbox) and sandbox.root else None
        host = self._make(name or "upload", entry, network=False, idle=0, uid=uid,
                          expected_name=name, counted=False,  # a probe, not the plugin
                          config=self.settings.plugin_defaults().get(name or "", {}))
        try:
            return await host.load()
        finally:
            await host.close()
