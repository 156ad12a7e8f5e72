"""Discovery kept on disk between processes, as kubectl keeps it under `~/.kube/cache`: a
`bot plugin call`, or a bot that restarts, reads the resource types a cluster served a
moment ago instead of asking for them again (17 requests on a cluster with a dozen groups).

One file per API server, named by its host and port as kubectl names its cache folders,
under `$KUBECACHEDIR` or `~/.kube/cache`, in a `chatops-bot` folder of its own (kubectl's
files keep their format and are never touched). A copy older than six hours (kubectl's
TTL), one that does not parse or has the wrong shape, and one that another user could have
written are ignored: discovery is then asked of the server again. The copy only saves
requests; it cannot widen what the bot may do — every name taken from it is checked by
bot.kube.names before it becomes part of a path, exactly as a name from the server is.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import astuple
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from bot.kube import Resource

log = logging.getLogger(__name__)

TTL_SECONDS = 6 * 3600.0  # kubectl's
FOLDER = "chatops-bot"
MAX_BYTES = 4 * 1024 * 1024  # a cluster with hundreds of CRDs writes ~200 KB

# What kube-apiserver's discovery may name: DNS subdomains, versions, kinds (Go identifiers)
NAME = "^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"
GROUP = "[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?"
VERSION = "[a-z]([-a-z0-9]{0,61}[a-z0-9])?"  # a DNS-1035 label: v1, v2beta1, a CRD's own
_WORDS = {"type": "array", "items": {"type": "string", "pattern": "^[A-Za-z0-9.-]{1,253}$"},
          "maxItems": 64}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["server", "saved_at", "resources"],
    "properties": {
        "server": {"type": "string"},
        "saved_at": {"type": "number"},
        "resources": {"type": "array", "maxItems": 20000, "items": {
            "type": "array", "prefixItems": [
                {"type": "string", "pattern": NAME},
                {"type": "string", "pattern": f"^({GROUP}/)?{VERSION}$"},
                {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9]{0,252}$"},
                {"type": "boolean"},
                _WORDS, {"type": "string", "maxLength": 253}, _WORDS, _WORDS],
            "minItems": 8, "maxItems": 8}}}}
_VALIDATOR = Draft202012Validator(SCHEMA)


def cache_root() -> Path | None:
    """kubectl's cache folder: `$KUBECACHEDIR`, else `~/.kube/cache`; None for a user with
    no home (a pod's arbitrary uid without HOME)."""
    configured = os.environ.get("KUBECACHEDIR")
    if configured:
        return Path(configured)
    try:
        return Path.home() / ".kube" / "cache"
    except (RuntimeError, KeyError):
        return None


def file_name(server: str) -> str:
    """`https://10.0.0.1:6443` → `10.0.0.1_6443.json`, as kubectl names its folders."""
    host = re.sub(r"^[a-z]+://", "", server.lower()).rstrip("/")
    return re.sub(r"[^\w.-]", "_", host)[:200] + ".json"


class DiskCache:
    """The saved discovery of one API server."""

    def __init__(self, server: str, root: Path, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.server = server
        self.path = root / FOLDER / "discovery" / file_name(server)
        self._clock = clock

    @classmethod
    def default(cls, server: str) -> DiskCache | None:
        """The copy in kubectl's cache folder, if this user has one."""
        root = cache_root()
        return cls(server, root) if root is not None else None

    def load(self) -> list[Resource] | None:
        """The saved resource types, or None when there is no usable copy."""
        try:
            document = self._read()
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.info("ignoring the discovery cache %s: %s", self.path, exc)
            return None
        if document is None:
            return None
        return [Resource(r[0], r[1], r[2], r[3], tuple(r[4]), r[5], tuple(r[6]), tuple(r[7]))
                for r in document["resources"]]

    def save(self, resources: list[Resource]) -> None:
        """Write the copy atomically, readable by this user only; a cache that cannot be
        written (a read-only home) costs requests, never the call."""
        document = {"server": self.server, "saved_at": self._clock(),
                    "resources": [list(astuple(r)) for r in resources]}
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".discovery-")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as stream:
                    json.dump(document, stream, separators=(",", ":"))
                os.replace(temporary, self.path)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as exc:
            log.info("could not write the discovery cache %s: %s", self.path, exc)

    def _read(self) -> dict[str, Any] | None:
        fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as stream:
            info = os.fstat(stream.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or (
                    info.st_mode & 0o022):
                raise ValueError("it is not a file of this user's, writable by this user only")
            raw = stream.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise ValueError(f"it is larger than {MAX_BYTES} bytes")
        document = json.loads(raw)
        error = next(iter(_VALIDATOR.iter_errors(document)), None)
        if error is not None:
            raise ValueError(f"it has the wrong shape ({error.message[:200]})")
        if document["server"] != self.server:
            raise ValueError("it was saved for another server")
        age = self._clock() - float(document["saved_at"])
        return document if 0 <= age <= TTL_SECONDS else None
