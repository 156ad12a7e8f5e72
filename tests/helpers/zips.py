"""Build plugin archives, honest and hostile, for upload tests."""

from __future__ import annotations

import io
import stat
import struct
import zipfile

from tests.helpers.plugin_factory import plugin_source

REGULAR = (stat.S_IFREG | 0o644) << 16


Entry = tuple[zipfile.ZipInfo, bytes]


def entry(name: str, data: bytes | str = b"", *, mode: int | None = None, flags: int = 0,
          method: int = zipfile.ZIP_DEFLATED) -> Entry:
    info = zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0))
    info.create_system = 3
    info.external_attr = REGULAR if mode is None else mode << 16
    info.flag_bits |= flags
    info.compress_type = method
    return info, data.encode() if isinstance(data, str) else data


def build(*entries: Entry) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for info, data in entries:
            archive.writestr(info, data)
    return buffer.getvalue()


def package(name: str, source: str | None = None, *, extra: dict[str, str] | None = None,
            **kwargs: object) -> bytes:
    """A well-formed upload: one top-level package directory."""
    entries = [entry(f"{name}/__init__.py", source or plugin_source(name, **kwargs))]
    entries += [entry(f"{name}/{path}", text) for path, text in (extra or {}).items()]
    return build(*entries)


def rename_raw(data: bytes, old: str, new: bytes) -> bytes:
    """Replace an entry name in both headers with raw bytes of the same length."""
    assert len(old.encode()) == len(new)
    return data.replace(old.encode(), new)


def patch_headers(data: bytes, name: str, *, size: int | None = None,
                  set_flags: int = 0) -> bytes:
    """Rewrite what an entry's local and central headers declare (size, flag bits)."""
    raw = bytearray(data)
    encoded = name.encode()
    for signature, name_at, flags_at, size_at in ((b"PK\x03\x04", 30, 6, 22),
                                                  (b"PK\x01\x02", 46, 8, 24)):
        offset = raw.find(signature)
        while offset != -1:
            length_at = 26 if signature == b"PK\x03\x04" else 28
            name_len = struct.unpack_from("<H", raw, offset + length_at)[0]
            if raw[offset + name_at:offset + name_at + name_len] == encoded:
                flags = struct.unpack_from("<H", raw, offset + flags_at)[0]
                struct.pack_into("<H", raw, offset + flags_at, flags | set_flags)
                if size is not None:
                    struct.pack_into("<I", raw, offset + size_at, size)
            offset = raw.find(signature, offset + 4)
    return bytes(raw)
