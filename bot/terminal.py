"""Output to a terminal: plugin-controlled text must not drive it.

A tool's output, a plugin's name or error can carry escape sequences (`ESC ] 0 ;` retitles
the window, `ESC [ 2 J` clears it, OSC 52 writes the clipboard). Every line the CLI and the
console print goes through `terminal_safe`, which drops C0 and C1 control characters except
newline and tab.
"""

from __future__ import annotations

import os
import pwd
import re
from typing import TextIO

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    return _CONTROL.sub("", text)


class SafeStream:
    """Wraps stdout/stderr so that everything written is `terminal_safe`."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(terminal_safe(text))

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


def os_user() -> str:
    """Who runs this command, for the audit trail (`cli:<name>`, `console:<name>`)."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return f"uid{os.getuid()}"
