"""The names other packages import from bot.plugin_host (see __init__.py): this stub is
the one list of them, read by lazy_loader at run time and by type checkers."""

from .contract.protocol import (
    Caller as Caller,
)
from .contract.protocol import (
    ErrorKind as ErrorKind,
)
from .contract.protocol import (
    LoadedPlugin as LoadedPlugin,
)
from .contract.protocol import (
    Manifest as Manifest,
)
from .contract.protocol import (
    ToolResult as ToolResult,
)
from .contract.schemas import (
    SchemaLimits as SchemaLimits,
)
from .contract.schemas import (
    compile_validator as compile_validator,
)
from .lifecycle.discovery import (
    BUILTINS as BUILTINS,
)
from .lifecycle.discovery import (
    UPLOADS as UPLOADS,
)
from .lifecycle.discovery import (
    discover as discover,
)
from .lifecycle.info import (
    McpInfo as McpInfo,
)
from .lifecycle.info import (
    PluginInfo as PluginInfo,
)
from .lifecycle.manager import (
    DEFAULT_ENABLED_BUILTINS as DEFAULT_ENABLED_BUILTINS,
)
from .lifecycle.manager import (
    PluginManager as PluginManager,
)
from .mcp.admin import (
    McpServers as McpServers,
)
from .mcp.checks import (
    LocalServer as LocalServer,
)
from .mcp.checks import (
    local_servers as local_servers,
)
from .mcp.connect import (
    LocalTarget as LocalTarget,
)
from .mcp.connect import (
    McpHosts as McpHosts,
)
from .mcp.connect import (
    McpTarget as McpTarget,
)
from .mcp.connect import (
    stdio_target as stdio_target,
)
from .mcp.credentials import (
    CredentialBox as CredentialBox,
)
from .mcp.credentials import (
    new_key as new_key,
)
from .mcp.credentials import (
    parse_keys as parse_keys,
)
from .policy.scopes import (
    DM as DM,
)
from .policy.scopes import (
    EVERYWHERE as EVERYWHERE,
)
from .policy.scopes import (
    NO_SETTINGS as NO_SETTINGS,
)
from .policy.scopes import (
    ScopedSettings as ScopedSettings,
)
from .policy.scopes import (
    parse_channel as parse_channel,
)
from .policy.scopes import (
    parse_where as parse_where,
)
from .policy.scopes import (
    scope_of as scope_of,
)
from .policy.scopes import (
    split_settings as split_settings,
)
from .policy.settings import (
    PluginSettings as PluginSettings,
)
from .runtime.health import (
    HealthMonitor as HealthMonitor,
)
from .runtime.registry import (
    Registry as Registry,
)
from .runtime.registry import (
    Tool as Tool,
)
from .runtime.registry import (
    arguments_digest as arguments_digest,
)
from .runtime.registry import (
    parse_arguments as parse_arguments,
)
from .sandbox.confine import (
    Sandbox as Sandbox,
)
from .sandbox.confine import (
    WorkerLimits as WorkerLimits,
)
from .sandbox.confine import (
    parse_uid_range as parse_uid_range,
)
from .sandbox.confine import (
    plugin_uids as plugin_uids,
)
from .sandbox.detect import (
    Unavailable as Unavailable,
)
from .sandbox.detect import (
    detect_sandbox as detect_sandbox,
)
from .sandbox.factory import (
    WorkerFactory as WorkerFactory,
)
from .sandbox.factory import (
    make_sandbox as make_sandbox,
)
from .sandbox.factory import (
    schema_limits as schema_limits,
)
from .sandbox.workers import (
    WorkerHost as WorkerHost,
)
from .uploads.archive_checks import (
    ZIP_MAGIC as ZIP_MAGIC,
)
from .uploads.archive_checks import (
    Limits as Limits,
)
from .uploads.installer import (
    Installer as Installer,
)
from .uploads.installer import (
    InstallResult as InstallResult,
)
from .uploads.packaging import (
    pack_directory as pack_directory,
)
from .uploads.packaging import (
    scaffold as scaffold,
)
from .uploads.stored_archives import (
    ArchiveStore as ArchiveStore,
)
from .uploads.upload_dir import (
    Owner as Owner,
)
from .uploads.upload_dir import (
    UploadDir as UploadDir,
)

__all__ = [
    "BUILTINS",
    "DEFAULT_ENABLED_BUILTINS",
    "DM",
    "EVERYWHERE",
    "NO_SETTINGS",
    "UPLOADS",
    "ZIP_MAGIC",
    "ArchiveStore",
    "Caller",
    "CredentialBox",
    "ErrorKind",
    "HealthMonitor",
    "InstallResult",
    "Installer",
    "Limits",
    "LoadedPlugin",
    "LocalServer",
    "LocalTarget",
    "Manifest",
    "McpHosts",
    "McpInfo",
    "McpServers",
    "McpTarget",
    "Owner",
    "PluginInfo",
    "PluginManager",
    "PluginSettings",
    "Registry",
    "Sandbox",
    "SchemaLimits",
    "ScopedSettings",
    "Tool",
    "ToolResult",
    "Unavailable",
    "UploadDir",
    "WorkerFactory",
    "WorkerHost",
    "WorkerLimits",
    "arguments_digest",
    "compile_validator",
    "detect_sandbox",
    "discover",
    "local_servers",
    "make_sandbox",
    "new_key",
    "pack_directory",
    "parse_arguments",
    "parse_channel",
    "parse_keys",
    "parse_uid_range",
    "parse_where",
    "plugin_uids",
    "scaffold",
    "schema_limits",
    "scope_of",
    "split_settings",
    "stdio_target",
]
