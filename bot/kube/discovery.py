"""Which resource types a cluster serves, learnt from its discovery API as kubectl does:
every built-in kind and every CRD, by plural, singular, kind, short name, `name.group`,
`name.version.group`, or category (`all`).

Discovery is cached per cluster for ten minutes; a name it does not know refreshes it at
once (a CRD installed a minute ago), at most every 30 seconds, so that a typo does not cost
a round of discovery calls each time. A complete discovery is also saved on disk
(bot.kube.discovery_cache), so that the next process starts from it; a name missing from
a copy read from disk refreshes at once.
"""

from __future__ import annotations

import difflib
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from bot.kube import ClusterError, Resource, UnknownResourceType
from bot.kube.discovery_cache import DiskCache

TTL_SECONDS = 600.0
WHAT = "discovering the cluster's resource types"
MISS_REFRESH_SECONDS = 30.0
Fetch = Callable[[str, str], Any]  # (path, what) -> JSON


class Discovery:
    def __init__(self, fetch: Fetch, *, clock: Callable[[], float] = time.monotonic,
                 disk: DiskCache | None = None) -> None:
        self._fetch = fetch
        self._clock = clock
        self._disk = disk
        self._lock = threading.Lock()
        self._resources: list[Resource] = []
        self._loaded_at: float | None = None
        self._from_disk = False
        self.calls = 0  # discovery documents fetched, for the benchmark

    def resolve(self, name: str) -> list[Resource]:
        """The resource types `name` means (several for a category), or ClusterError saying
        the server has no such type, with close matches."""
        found = self._match(self.resources(), name)
        if not found and self._stale_for_a_miss():
            found = self._match(self.resources(refresh=True), name)
        if not found:
            close = difflib.get_close_matches(name.lower(), self._names(), n=3, cutoff=0.6)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise UnknownResourceType(f'The server has no resource type "{name}".{hint} '
                               "`api-resources` lists what it serves.")
        return found

    def resources(self, *, refresh: bool = False) -> list[Resource]:
        with self._lock:
            now = self._clock()
            if self._loaded_at is None and not refresh and self._disk is not None:
                saved = self._disk.load()
                if saved is not None:
                    self._resources, self._loaded_at, self._from_disk = saved, now, True
            if refresh or self._loaded_at is None or now - self._loaded_at > TTL_SECONDS:
                self._resources, complete = self._discover()
                self._loaded_at, self._from_disk = now, False
                if complete and self._disk is not None:
                    self._disk.save(self._resources)
            return list(self._resources)

    def _stale_for_a_miss(self) -> bool:
        return self._loaded_at is None or self._from_disk or (
            self._clock() - self._loaded_at > MISS_REFRESH_SECONDS)

    def _discover(self) -> tuple[list[Resource], bool]:
        """Every resource type served, and whether every group answered (only then is the
        list worth saving for other processes)."""
        found = self._resources_of("v1", self._get("/api/v1", WHAT))
        groups = self._get("/apis", WHAT).get("groups") or []
        complete = True
        for group in groups:
            preferred = group.get("preferredVersion") or (group.get("versions") or [{}])[0]
            version = preferred.get("groupVersion")
            if version:
                listed = self._group_version(version, f"/apis/{version}")
                complete = complete and listed is not None
                found += listed or []
        return found, complete

    def _group_version(self, group_version: str, path: str) -> list[Resource] | None:
        try:
            listing = self._get(path, f"discovering {group_version}")
        except ClusterError:
            return None  # an aggregated API that is down (metrics-server) hides only itself
        return self._resources_of(group_version, listing)

    @staticmethod
    def _resources_of(group_version: str, listing: Any) -> list[Resource]:
        listed = listing.get("resources") or []
        return [Resource(r["name"], group_version, r["kind"], bool(r.get("namespaced")),
                         tuple(r.get("shortNames") or ()), r.get("singularName") or
                         r["kind"].lower(), tuple(r.get("categories") or ()),
                         tuple(r.get("verbs") or ()))
                for r in listed if "/" not in r["name"]]

    def _get(self, path: str, what: str) -> Any:
        self.calls += 1
        return self._fetch(path, what)

    def _names(self) -> list[str]:
        return sorted({alias for r in self._resources for alias in r.aliases})

    @staticmethod
    def _match(resources: list[Resource], name: str) -> list[Resource]:
        wanted = name.lower()
        base, _, qualifier = wanted.partition(".")
        if base in {c for r in resources for c in r.categories} and not qualifier:
            return [r for r in resources if base in r.categories]
        for r in resources:  # discovery order: the core group first, as kubectl prefers
            if base in r.aliases and _qualifies(r, qualifier):
                return [r]
        return []


def _qualifies(resource: Resource, qualifier: str) -> bool:
    """`pods` (anything), `deployments.apps`, `deployments.v1.apps`."""
    if not qualifier:
        return True
    group = resource.group_version.rpartition("/")[0]
    version = resource.group_version.rpartition("/")[2]
    return qualifier in (group, f"{version}.{group}") or (
        group == "" and qualifier == version)


_by_api: weakref.WeakKeyDictionary[Any, Discovery] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def for_api(api: Any, fetch: Fetch, server: str) -> Discovery:
    """The one Discovery of a client (its cluster, at `server`), kept as long as the client
    is: keyed by the client itself, never by an id() a later client could reuse."""
    with _registry_lock:
        found = _by_api.get(api)
        if found is None:
            found = _by_api[api] = Discovery(fetch, disk=DiskCache.default(server))
        return found
