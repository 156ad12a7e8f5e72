"""Sentences about several replicas: where a plugin is loaded, archives unpacked from the
database. Re-exported by `bot.messages`; import them from there."""

from __future__ import annotations

__all__ = [
    "archive_corrupt",
    "loaded_on",
    "no_stored_archive",
    "not_loaded_yet",
    "replica_problem",
]


def no_stored_archive() -> str:
    return ("; the database holds no copy to unpack (installed before uploads were stored): "
            "upload it again")


def archive_corrupt(sha256: str) -> str:
    return (f"its stored upload no longer matches its sha256 ({sha256[:12]}…), so it was not "
            "unpacked: upload it again")


def loaded_on(loaded: int, replicas: int) -> str:
    return f"loaded on {loaded} of {replicas} replica{'s' if replicas != 1 else ''}"


def not_loaded_yet() -> str:
    return "not loaded yet"


def replica_problem(replica: str, problem: str) -> str:
    return f"{replica}: {problem}"
