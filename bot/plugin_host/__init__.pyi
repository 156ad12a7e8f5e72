"""The names other packages import from bot.plugin_host (see __init__.py): this stub is
the one list of them, read by lazy_loader at run time and by type checkers."""

from .contract.protocol import (
    Caller as Caller,
    ErrorKind as ErrorKind,
    LoadedPlugin as LoadedPlugin,
    Manifest as Manifest,
    ToolResult as ToolResult,
)
from .contract.schemas import (
    SchemaLimits as SchemaLimits,
    compile_validator as compile_validator,
)
from .lifecycle.actions import (
    Action as Action,
)
from .lifecycle.discovery import (
    BUILTINS as BUILTINS,
    UPLOADS as UPLOADS,
    discover as discover,
)
from .lifecycle.info import (
    McpInfo as McpInfo,
    PluginInfo as PluginInfo,
)
from .lifecycle.manager import (
    DEFAULT_ENABLED_BUILTINS as DEFAULT_ENABLED_BUILTINS,
    Outcome as Outcome,
    PluginManager as PluginManager,
)
from .lifecycle.plugin_store import (
    PluginStore as PluginStore,
)
from .mcp.admin import (
    McpServers as McpServers,
)
from .mcp.connect import (
    LocalTarget as LocalTarget,
    McpHosts as McpHosts,
    McpTarget as McpTarget,
    stdio_target as stdio_target,
)
from .mcp.credentials import (
    CredentialBox as CredentialBox,
    new_key as new_key,
)
from .mcp.last_error import (
    LastErrors as LastErrors,
)
from .policy.scopes import (
    DM as DM,
    EVERYWHERE as EVERYWHERE,
    NO_SETTINGS as NO_SETTINGS,
    ScopedSettings as ScopedSettings,
    Where as Where,
    parse_channel as parse_channel,
    parse_where as parse_where,
    scope_of as scope_of,
    split_settings as split_settings,
)
from .policy.settings import (
    PluginSettings as PluginSettings,
)
from .runtime.health import (
    HealthMonitor as HealthMonitor,
)
from .runtime.registry import (
    MODEL_MAX_TOOLS as MODEL_MAX_TOOLS,
    Registry as Registry,
    Tool as Tool,
    arguments_digest as arguments_digest,
    parse_arguments as parse_arguments,
)
from .sandbox.confine import (
    Sandbox as Sandbox,
    WorkerLimits as WorkerLimits,
    plugin_uids as plugin_uids,
)
from .sandbox.detect import (
    Unavailable as Unavailable,
    detect_sandbox as detect_sandbox,
)
from .sandbox.factory import (
    WorkerFactory as WorkerFactory,
    make_sandbox as make_sandbox,
    schema_limits as schema_limits,
)
from .sandbox.workers import (
    WorkerHost as WorkerHost,
)
from .uploads.archive_checks import (
    ZIP_MAGIC as ZIP_MAGIC,
    Limits as Limits,
)
from .uploads.installer import (
    Installer as Installer,
    InstallResult as InstallResult,
    UploadChecks as UploadChecks,
)
from .uploads.packaging import (
    pack_directory as pack_directory,
    scaffold as scaffold,
)
from .uploads.stored_archives import (
    ArchiveStore as ArchiveStore,
)
from .uploads.upload_dir import (
    Owner as Owner,
    UploadDir as UploadDir,
)

__all__ = [
    "BUILTINS",
    "DEFAULT_ENABLED_BUILTINS",
    "DM",
    "EVERYWHERE",
    "MODEL_MAX_TOOLS",
    "NO_SETTINGS",
    "UPLOADS",
    "ZIP_MAGIC",
    "Action",
    "ArchiveStore",
    "Caller",
    "CredentialBox",
    "ErrorKind",
    "HealthMonitor",
    "InstallResult",
    "Installer",
    "LastErrors",
    "Limits",
    "LoadedPlugin",
    "LocalTarget",
    "Manifest",
    "McpHosts",
    "McpInfo",
    "McpServers",
    "McpTarget",
    "Outcome",
    "Owner",
    "PluginInfo",
    "PluginManager",
    "PluginSettings",
    "PluginStore",
    "Registry",
    "Sandbox",
    "SchemaLimits",
    "ScopedSettings",
    "Tool",
    "ToolResult",
    "Unavailable",
    "UploadChecks",
    "UploadDir",
    "Where",
    "WorkerFactory",
    "WorkerHost",
    "WorkerLimits",
    "arguments_digest",
    "compile_validator",
    "detect_sandbox",
    "discover",
    "make_sandbox",
    "new_key",
    "pack_directory",
    "parse_arguments",
    "parse_channel",
    "parse_where",
    "plugin_uids",
    "scaffold",
    "schema_limits",
    "scope_of",
    "split_settings",
    "stdio_target",
]
