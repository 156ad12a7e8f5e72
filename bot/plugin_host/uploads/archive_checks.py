"""Archive checks and safe extraction for uploaded plugins.

Nothing here trusts the archive: names are checked before anything is written, sizes are
counted while extracting (never taken from headers), every target path is resolved and
checked for containment, and `extractall` is never used.
"""

from __future__ import annotations

import io
import stat
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bot import messages
from bot.errors import Problem

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
BINARY_SUFFIXES = frozenset({".zip", ".whl", ".egg", ".jar", ".tar", ".gz", ".tgz", ".bz2",
                             ".xz", ".7z", ".rar", ".so", ".pyd", ".dll", ".dylib", ".exe",
                             ".pth", ".pyc", ".pyo"})
BINARY_MAGIC = (b"PK\x03\x04", b"\x7fELF", b"MZ", b"\xcf\xfa\xed\xfe", b"\x1f\x8b")
MAX_DEPTH = 16  # path components of one entry
MAX_NAME = 512  # characters of one entry name
MAX_COMPONENT = 255  # bytes of one path component: what a filesystem stores (NAME_MAX)
RATIO_MIN_BYTES = 64 * 1024  # tiny files compress absurdly well; judge ratios above this
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Limits:
    max_upload_bytes: int = 10 * 1024 * 1024
    max_unpacked_bytes: int = 50 * 1024 * 1024
    max_entries: int = 1000
    max_ratio: float = 100.0


@dataclass(frozen=True)
class Layout:
    """Where the plugin is inside the extracted tree, and its name when the layout tells it."""

    entry: Path  # a package directory or a single module file
    name: str | None  # None for a package at the archive root (the manifest names it)


class ArchiveError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def extract_upload(data: bytes, filename: str, staging: Path, limits: Limits) -> Layout:
    """Check `data` (a .zip or a single .py) and extract it into the empty dir `staging`."""
    if len(data) > limits.max_upload_bytes:
        raise ArchiveError([Problem("upload", messages.upload_too_large(
            len(data), limits.max_upload_bytes))])
    if not data:
        raise ArchiveError([Problem("", messages.upload_empty(filename))])
    lower = filename.lower()
    if lower.endswith(".py"):
        return _extract_module(data, filename, staging)
    if not lower.endswith(".zip"):
        raise ArchiveError([Problem("upload", f"'{filename}' is neither a .zip nor a .py file")])
    if not data.startswith(ZIP_MAGIC):
        raise ArchiveError([Problem("upload", f"'{filename}' is not a zip archive (its bytes do "
                                    "not start with the zip signature)")])
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ArchiveError([Problem("upload", f"'{filename}' is not a readable zip archive "
                                    f"({exc})")]) from None
    with archive:
        members = check_members(archive, limits)
        _extract_members(archive, members, staging, limits)
    return find_layout(staging, [name for name, _ in members])


def _extract_module(data: bytes, filename: str, staging: Path) -> Layout:
    name = PurePosixPath(filename.replace("\\", "/")).name
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise ArchiveError([Problem("upload", f"'{filename}' is not UTF-8 Python source")]
                           ) from None
    if data.startswith(BINARY_MAGIC) or b"\x00" in data:
        raise ArchiveError([Problem("upload", f"'{filename}' is a binary file, not Python "
                                    "source")])
    target = staging / name
    target.write_bytes(data)
    return Layout(entry=target, name=target.stem)


def check_members(archive: zipfile.ZipFile, limits: Limits) -> list[tuple[str, zipfile.ZipInfo]]:
    """Every problem with the entries' names, types and declared sizes; raises ArchiveError."""
    infos = archive.infolist()
    problems: list[Problem] = []
    if not infos:
        raise ArchiveError([Problem("archive", "the archive is empty")])
    if len(infos) > limits.max_entries:
        raise ArchiveError([Problem("archive", f"{len(infos)} entries is over the limit of "
                                    f"{limits.max_entries}")])
    members: list[tuple[str, zipfile.ZipInfo]] = []
    seen: dict[str, str] = {}
    declared = 0
    for info in infos:
        name, name_problem = _decode_name(info)
        if name_problem:
            problems.append(Problem(name, name_problem))
            continue
        issue = _name_problem(name) or _type_problem(info)
        if issue:
            problems.append(Problem(name, issue))
            continue
        key = unicodedata.normalize("NFKC", name.rstrip("/")).casefold()
        if key in seen:
            problems.append(Problem(name, f"duplicates '{seen[key]}' (names are compared "
                                    "case-insensitively and Unicode-normalised)"))
            continue
        seen[key] = name
        declared += info.file_size
        if (info.file_size > RATIO_MIN_BYTES and info.compress_size
                and info.file_size / info.compress_size > limits.max_ratio):
            problems.append(Problem(name, f"compression ratio "
                                    f"{info.file_size / info.compress_size:,.0f}:1 is over "
                                    f"{limits.max_ratio:g}:1 (zip bomb?)"))
            continue
        members.append((name, info))
    problems += _collisions(seen)
    if declared > limits.max_unpacked_bytes:
        problems.append(Problem("archive", f"unpacks to {declared:,} bytes, over the "
                                f"{limits.max_unpacked_bytes:,}-byte limit"))
    if problems:
        raise ArchiveError(problems)
    return members


def _collisions(seen: dict[str, str]) -> list[Problem]:
    """Entries under a name that is also a file (`a/b` as a file and `a/b/c`)."""
    files = {key for key, name in seen.items() if not name.endswith("/")}
    problems = []
    for key, name in seen.items():
        parts = key.split("/")
        above = next((p for p in ("/".join(parts[:i]) for i in range(1, len(parts)))
                      if p in files), None)
        if above is not None:
            problems.append(Problem(name, f"is inside '{seen[above]}', which is a file (one "
                                    "name used as both a file and a directory)"))
    return problems


def _decode_name(info: zipfile.ZipInfo) -> tuple[str, str | None]:
    if info.flag_bits & 0x800:
        return info.filename, None
    raw = info.orig_filename.encode("cp437", errors="replace")
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        return info.orig_filename, "the entry name is not valid UTF-8"


def _name_problem(name: str) -> str | None:
    if "\x00" in name:
        return "the name contains a NUL byte"
    if len(name) > MAX_NAME or name.rstrip("/").count("/") >= MAX_DEPTH:
        return (f"the path is nested too deeply (at most {MAX_DEPTH} levels and {MAX_NAME} "
                "characters)")
    if "\\" in name:
        return "backslashes are not allowed in names (Windows-style path trick)"
    if name.startswith("/"):
        return "absolute paths are not allowed"
    first = name.split("/", 1)[0]
    if len(first) >= 2 and first[1] == ":":
        return "drive letters are not allowed"
    parts = name.rstrip("/").split("/")
    if any(part in ("..", ".") for part in parts):
        return "'..' and '.' path components are not allowed"
    if any(part == "" for part in parts):
        return "empty path components are not allowed"
    if any(len(part.encode()) > MAX_COMPONENT for part in parts):
        return (f"a file or folder name is longer than {MAX_COMPONENT} bytes (no filesystem "
                "stores it)")
    if "__pycache__" in parts:
        return "__pycache__ directories are not allowed (ship source only)"
    if not name.endswith("/") and PurePosixPath(name).suffix.lower() in BINARY_SUFFIXES:
        return (f"'{PurePosixPath(name).suffix}' files are not allowed (no nested archives, "
                "compiled code or .pth files)")
    return None


def _type_problem(info: zipfile.ZipInfo) -> str | None:
    if info.flag_bits & 0x1:
        return "encrypted entries are not allowed"
    mode = info.external_attr >> 16
    if info.create_system == 3 and mode:  # Unix attributes present
        if stat.S_ISLNK(mode):
            return "symbolic links are not allowed"
        # no type bits at all is common (Python's own zipfile.writestr): a regular file
        if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            return "only regular files and directories are allowed (device, FIFO or socket)"
        if mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX):
            return "setuid, setgid and sticky bits are not allowed"
    return None


def _extract_members(archive: zipfile.ZipFile, members: list[tuple[str, zipfile.ZipInfo]],
                     staging: Path, limits: Limits) -> None:
    root = staging.resolve()
    total = 0
    for name, info in members:
        target = (root / name).resolve()
        if not target.is_relative_to(root) or target == root:
            raise ArchiveError([Problem(name, "resolves outside the plugin directory")])
        if name.endswith("/"):
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        total = _copy_entry(archive, name, info, target, total, limits)


def _copy_entry(archive: zipfile.ZipFile, name: str, info: zipfile.ZipInfo, target: Path,
                total: int, limits: Limits) -> int:
    written = 0
    try:
        with archive.open(info) as source, open(target, "xb") as sink:
            while chunk := source.read(CHUNK):
                if (written == 0 and chunk.startswith(BINARY_MAGIC)) or b"\x00" in chunk:
                    raise ArchiveError([Problem(name, "binary content (nested archive, "
                                                "executable or NUL bytes) is not allowed")])
                written += len(chunk)
                total += len(chunk)
                if written > info.file_size:
                    raise ArchiveError([Problem(name, "is larger than its header says")])
                if total > limits.max_unpacked_bytes:
                    raise ArchiveError([Problem("archive", f"unpacks to more than "
                                                f"{limits.max_unpacked_bytes:,} bytes")])
                if (written > RATIO_MIN_BYTES and info.compress_size
                        and written / info.compress_size > limits.max_ratio):
                    raise ArchiveError([Problem(name, f"compression ratio is over "
                                                f"{limits.max_ratio:g}:1 (zip bomb?)")])
                sink.write(chunk)
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as exc:
        raise ArchiveError([Problem(name, f"cannot be read: {exc} (corrupt entry, or a header "
                                    "that misstates its size)")]) from None
    return total


def find_layout(staging: Path, names: list[str]) -> Layout:
    """Accept a package at the root, one top-level package directory, or one .py module."""
    files = [n for n in names if not n.endswith("/")]
    top = {n.split("/", 1)[0] for n in names}
    if "__init__.py" in files:
        return Layout(entry=staging, name=None)
    top_dirs = [t for t in top if (staging / t).is_dir()]
    if len(top_dirs) == 1 and (staging / top_dirs[0] / "__init__.py").is_file():
        return Layout(entry=staging / top_dirs[0], name=top_dirs[0])
    modules = [t for t in top if t.endswith(".py") and (staging / t).is_file()]
    if len(modules) == 1 and not top_dirs:
        return Layout(entry=staging / modules[0], name=modules[0][:-3])
    raise ArchiveError([Problem("layout", "no plugin found: the archive must hold a package "
                                "(__init__.py) at its root, one top-level package directory, "
                                "or one .py module")])
