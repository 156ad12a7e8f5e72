"""What can happen to a plugin: one name for the audit entry, the transition and what the
change listeners hear (App Home, the admins' channel, the other replicas' views)."""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    ENABLE = "enable"
    DISABLE = "disable"
    AUTO_DISABLE = "auto-disable"  # health switched it off (heard as this; audited as disable)
    REMOVE = "remove"
    INSTALL = "install"
    ROLLBACK = "rollback"
    RELOAD = "reload"
    REFRESH = "refresh"  # another process changed the database
    SET = "set"  # an admin's settings
    APPROVAL = "approval"  # a tool's approval rule
    LOAD = "load"  # where a replica loads it
    MCP_ADD = "mcp-add"
    MCP_ACCEPT = "mcp-accept"
    MCP_CHANGE = "mcp-change"  # a server lists other tools (audited)
    MCP_REVIEW = "mcp-review"  # ... and the admins are asked to review them (heard)
