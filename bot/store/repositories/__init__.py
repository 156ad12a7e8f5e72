"""Repositories, one per aggregate: each takes a session and never commits; the services
(`bot/store/*.py`) open the transaction (`Database.read()`/`write()`, the unit of work)
and say what it means. Every SQL statement of the bot is in here or in a migration."""

from bot.store.repositories.meta import database_id, rows_changed
from bot.store.repositories.plugins import (
    ApprovalRuleRepository,
    ArchiveRepository,
    PluginLoadRepository,
    PluginRepository,
    active_version,
)
from bot.store.repositories.runs import (
    ApprovalRepository,
    DeliveryRepository,
    OutputRepository,
    ReplicaRepository,
    RunState,
    SlackRateHoldRepository,
    SlackRunRepository,
    UsageRepository,
    live_replicas,
)
from bot.store.repositories.trail import AuditRepository, ToolCallRepository

__all__ = ["ApprovalRepository", "ApprovalRuleRepository", "ArchiveRepository",
           "AuditRepository", "DeliveryRepository", "OutputRepository", "PluginLoadRepository",
           "PluginRepository", "ReplicaRepository", "RunState", "SlackRateHoldRepository",
           "SlackRunRepository",
           "ToolCallRepository", "UsageRepository", "active_version", "database_id",
           "live_replicas", "rows_changed"]
