"""Where each plugin is loaded: this process's own problems, and every replica's rows.

The plugin row holds the shared desired state (`enabled`, the active version) and what
an admin action or the health monitor made of it. Whether the code then loads is each
process's own business: a replica without a plugin's files, or without a sandbox, must not
switch the plugin off for the others. So a failure to load is kept here: in memory for
this process and, for a `bot run` replica (`join`), in its rows of `plugin_loads`, which
every process reads to say "loaded on 2 of 3 replicas" and each replica's problem.
Replicas that stop beating drop out of the count (their rows are ignored, then pruned).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bot import messages
from bot.errors import DatabaseFault
from bot.store import Database, Session
from bot.store.repositories import AuditRepository, PluginLoadRepository, PluginRepository
from bot.store.shared_runs import STALE_SECONDS

log = logging.getLogger(__name__)
RETRY_SECONDS = 60.0


@dataclass(frozen=True)
class ReplicaLoad:
    """One live replica's state for one plugin: loaded at `version`, or `error`."""

    replica: str
    version: str | None
    error: str | None


@dataclass(frozen=True)
class Placement:
    """What every live replica reported for every plugin, read once for a view."""

    replicas: int  # live replicas (0: no `bot run` is beating)
    loads: Mapping[str, tuple[ReplicaLoad, ...]]

    def of(self, name: str) -> tuple[ReplicaLoad, ...]:
        return self.loads.get(name, ())


NOWHERE = Placement(0, {})


@dataclass(frozen=True)
class Failure:
    error: str
    version: str | None  # the version that failed: a new one is tried at once
    at: float  # time.monotonic() of the try


class LoadStates:
    def __init__(self, db: Database, *, stale: float = STALE_SECONDS) -> None:
        self.db = db
        self.stale = stale
        self.replica: str | None = None  # set by `join`, for a `bot run` replica
        self._failures: dict[str, Failure] = {}  # plugin -> why it is not loaded here
        self._written: dict[str, ReplicaLoad] = {}

    def local_problem(self, name: str) -> str | None:
        """This process's problem with `name`, for a process that is not a replica (its
        own view is all it has); a replica's problems are read back from its rows."""
        return None if self.replica else self.problem(name)

    def problem(self, name: str) -> str | None:
        failure = self._failures.get(name)
        return failure.error if failure else None

    def failed(self, name: str, error: str, version: str | None = None) -> bool:
        """Remember why `name` (at `version`) did not load here; True when that is news
        (to log once)."""
        news = self.problem(name) != error
        self._failures[name] = Failure(error, version, time.monotonic())
        return news

    def loaded(self, name: str) -> None:
        self._failures.pop(name, None)

    def worth_trying(self, name: str, version: str | None) -> bool:
        """Whether to try loading `name` again at a refresh: always after a change of
        version, else once every RETRY_SECONDS (unpacking a large upload that failed its
        checks on every 5 s poll would only repeat the failure)."""
        tried = self._failures.get(name)
        return tried is None or tried.version != version or \
            time.monotonic() - tried.at >= RETRY_SECONDS

    async def audit_failure(self, session: Session, name: str, error: str, *,
                            actor: str) -> None:
        """Audit a load failure once, not again at every start or by every replica."""
        last = await AuditRepository(session).recent(1, target=name)
        if last and (last[0].action, last[0].outcome, last[0].detail) == (
                "load", "error", error):
            return
        AuditRepository(session).record(actor=actor, action="load", target=name,
                                        outcome="error", detail=error)

    async def publish(self, version_of: Callable[[str], str | None],
                      enabled: list[str] | None = None) -> None:
        """Write this replica's rows: for each enabled plugin (all of them when `enabled`
        is None), the version loaded here, or None with why not; rows of plugins no
        longer enabled go. Only a change is written, and a database fault is logged:
        where a plugin loads is worth less than the change that moved it."""
        if self.replica is None:
            return
        try:
            if enabled is None:
                async with self.db.read() as session:
                    enabled = await PluginRepository(session).enabled_names()
            await self._write({name: version_of(name) for name in enabled})
        except DatabaseFault as exc:
            log.error("could not record where plugins are loaded: %s", exc)

    async def _write(self, wanted: Mapping[str, str | None]) -> None:
        assert self.replica is not None
        waiting = messages.not_loaded_yet()
        now = {name: ReplicaLoad(self.replica, version,
                                 None if version else self.problem(name) or waiting)
               for name, version in wanted.items()}
        if now == self._written:
            return
        async with self.db.write() as session:
            await PluginLoadRepository(session).replace(
                self.replica, {name: (load.version, load.error) for name, load in now.items()})
        self._written = now

    async def placement(self) -> Placement:
        """Every live replica's rows, and how many replicas are live."""
        async with self.db.read() as session:
            count, rows = await PluginLoadRepository(session).of_live_replicas(self.stale)
        loads: dict[str, list[ReplicaLoad]] = {}
        for row in rows:
            loads.setdefault(row.plugin_name, []).append(
                ReplicaLoad(row.replica, row.version, row.error))
        return Placement(count, {k: tuple(v) for k, v in loads.items()})

    async def leave(self) -> None:
        """This replica is going: its rows go with it."""
        if self.replica is None:
            return
        try:
            async with self.db.write() as session:
                await PluginLoadRepository(session).drop(self.replica)
        except DatabaseFault as exc:  # they drop out with the heartbeat anyway
            log.warning("could not remove this replica's plugin load rows: %s", exc)
        self._written = {}
