"""The tables, one module per group (base, plugins, trail, runs); every name is here."""

from bot.store.models.base import (
    Base as Base,
    MetaRow as MetaRow,
    UTCDateTime as UTCDateTime,
    utcnow as utcnow,
)
from bot.store.models.plugins import (
    ApprovalRuleRow as ApprovalRuleRow,
    McpServerRow as McpServerRow,
    PluginArchiveRow as PluginArchiveRow,
    PluginLoadRow as PluginLoadRow,
    PluginRow as PluginRow,
    PluginSettingRow as PluginSettingRow,
    PluginVersionRow as PluginVersionRow,
)
from bot.store.models.runs import (
    ApprovalRow as ApprovalRow,
    ProcessedEvent as ProcessedEvent,
    ReplicaRow as ReplicaRow,
    RunFeedbackRow as RunFeedbackRow,
    RunUsageRow as RunUsageRow,
    SlackRateHoldRow as SlackRateHoldRow,
    SlackRunRow as SlackRunRow,
    ToolOutputRow as ToolOutputRow,
)
from bot.store.models.trail import (
    AuditEvent as AuditEvent,
    ToolCallRow as ToolCallRow,
)
