"""Settings: the only place environment variables are read."""

from __future__ import annotations

import ipaddress
import os
import re
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, MultiFernet
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from bot import messages
from bot.errors import ConfigError
from bot.sdk import PERMISSIONS, PLUGIN_NAME_RE

PROBE_UIDS = 1024  # the top of PLUGIN_UID_RANGE: install probes and start-up checks

# Builtins and examples ship next to the code: found there whatever the current directory.
CODE_PLUGINS_DIR = Path(__file__).resolve().parents[1] / "plugins"


KUBE_PLUGINS = ("kubectl", "k8sgpt")
# The operator's limits on what the Kubernetes builtins may read: set for one of them (and
# not the other), they hold for both, so that k8sgpt cannot read what kubectl may not.
KUBE_LIMITS = ("namespace_allow", "namespace_deny", "clusters")


class Settings(BaseSettings):
    """Runtime settings; every field is read from the environment variable of the same name."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    bot_admin_users: Annotated[list[str], NoDecode] = Field(default_factory=list)
    bot_admin_channel: str | None = None
    slack_streaming: bool = True  # stream answers (chat.startStream); off: status + post
    slack_suggested_prompts: list[dict[str, str]] | None = None  # agent view: [{title,message}]

    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_org_id: str | None = None  # the names the openai SDK reads, for the same headers
    openai_project_id: str | None = None
    azure_openai_endpoint: str | None = None  # Azure OpenAI: OPENAI_MODEL names the deployment
    openai_api_version: str | None = None  # Azure's api-version, e.g. 2024-10-21
    https_proxy: str | None = None  # the standard proxy variables, either case
    http_proxy: str | None = None
    all_proxy: str | None = None
    no_proxy: str | None = None

    openai_timeout: float = Field(default=60, gt=0)
    openai_max_retries: int = Field(default=6, ge=0, le=10)  # within OPENAI_TIMEOUT
    agent_max_steps: int = Field(default=10, ge=1, le=50)
    agent_max_concurrent_runs: int = Field(default=32, ge=1)  # bench_slack_load.py
    agent_context_tokens: int = Field(default=12_000, ge=500)
    agent_system_prompt: str | None = None
    agent_system_prompt_file: Path | None = None
    approval_timeout_seconds: float = Field(default=300, gt=0)

    database_url: str = "sqlite+aiosqlite:///./data/bot.db"
    plugins_dir: Path = CODE_PLUGINS_DIR
    kubeconfig: str | None = None
    plugin_config: dict[str, dict[str, Any]] = Field(default_factory=dict)
    port: int = Field(default=3000, ge=1, le=65535)
    host: str = "0.0.0.0"
    # /healthz, /readyz and /metrics on a port of their own (not exposed with /slack/events)
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"

    tool_timeout: float = Field(default=30.0, gt=0, le=600)
    tool_output_limit: int = Field(default=16_000, ge=200)  # what the model sees at once
    tool_output_keep_limit: int = Field(default=4_000_000, ge=1000)  # kept per run, to page

    # uploaded plugins: archive limits, sandbox, worker limits, health
    plugin_sandbox: Literal["auto", "bwrap", "process"] = "auto"
    plugin_python: str | None = None
    plugin_uid_range: str = "200000-265535"  # process/bwrap as root: one uid per plugin
    plugin_max_upload_mb: float = Field(default=10, gt=0)
    plugin_max_unpacked_mb: float = Field(default=50, gt=0)
    plugin_max_entries: int = Field(default=1000, ge=1)
    plugin_max_compression_ratio: float = Field(default=100, ge=1)
    plugin_probe_timeout: float = Field(default=10, gt=0)
    plugin_worker_idle_seconds: float = Field(default=300, ge=0)
    plugin_worker_memory_mb: int = Field(default=512, ge=64)
    plugin_worker_cpu_seconds: int = Field(default=300, ge=1)
    plugin_worker_max_open_files: int = Field(default=256, ge=16)
    plugin_worker_max_file_mb: int = Field(default=16, ge=1)
    plugin_worker_max_processes: int = Field(default=64, ge=1)
    plugin_worker_tmp_mb: int = Field(default=64, ge=1, le=4096)
    plugin_max_tools: int = Field(default=128, ge=1, le=4096)
    plugin_max_schema_kb: int = Field(default=64, ge=1, le=4096)
    plugin_max_response_mb: float = Field(default=4, gt=0)
    plugin_max_consecutive_failures: int = Field(default=3, ge=0)
    plugin_refresh_seconds: float = Field(default=5, ge=0)
    # how long a run's replica may stay silent before another takes the run over (it is renewed
    # 4 times in that time): longer rides out longer pauses; shorter tells a dead one sooner
    replica_lease_seconds: float = Field(default=20, ge=2, le=600)

    # MCP servers: credentials at rest, operator-configured local servers, time limits
    bot_secret_key: SecretStr | None = None  # Fernet key(s), comma-separated: first encrypts
    mcp_servers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    mcp_connect_timeout: float = Field(default=10, gt=0, le=120)
    # addresses `mcp add` may reach besides the public internet (loopback, link-local and
    # cloud metadata are refused otherwise): comma-separated CIDRs
    mcp_allow_cidrs: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @property
    def llm_configured(self) -> bool:
        return bool(self.openai_api_key or self.openai_base_url or self.azure_openai_endpoint)

    @field_validator("bot_admin_users", mode="before")
    @classmethod
    def _split_users(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("bot_secret_key")
    @classmethod
    def _check_secret_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip():
            parse_keys(value.get_secret_value())
            return value
        return None

    @field_validator("mcp_allow_cidrs", mode="before")
    @classmethod
    def _split_cidrs(cls, value: Any) -> list[str]:
        items = value.split(",") if isinstance(value, str) else list(value or [])
        cidrs = [str(item).strip() for item in items if str(item).strip()]
        for cidr in cidrs:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"{cidr!r} is not a CIDR such as 10.0.0.0/8") from None
        return cidrs

    def mcp_allowed_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(cidr, strict=False) for cidr in self.mcp_allow_cidrs]

    @field_validator("mcp_servers")
    @classmethod
    def _check_mcp_servers(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        local_servers(value)
        return value

    @property
    def local_mcp_servers(self) -> dict[str, LocalServer]:
        """MCP_SERVERS, parsed (checked when the settings were read)."""
        return local_servers(self.mcp_servers)

    @field_validator("plugin_uid_range")
    @classmethod
    def _check_uid_range(cls, value: str) -> str:
        parse_uid_range(value)
        return value

    @property
    def sandbox_uid_range(self) -> tuple[int, int]:
        return parse_uid_range(self.plugin_uid_range)

    @field_validator("openai_base_url", "slack_api_url")
    @classmethod
    def _check_http_url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{value!r} is not an http(s) URL; e.g. "
                                 "http://localhost:11434/v1")
        return value

    @field_validator("kubeconfig")
    @classmethod
    def _check_kubeconfig(cls, value: str | None) -> str | None:
        if value:
            paths = [Path(part).expanduser() for part in value.split(os.pathsep) if part]
            if paths and not any(path.is_file() for path in paths):
                raise ValueError(f"names {value}, which is not a file; point it at a "
                                 "kubeconfig, or unset it to use ~/.kube/config or the "
                                 "pod's service account")
        return value

    @field_validator("plugins_dir")
    @classmethod
    def _absolute_plugins_dir(cls, value: Path) -> Path:
        resolved = value.expanduser().resolve()  # resolved once: the same dir for every part
        if resolved.exists() and not resolved.is_dir():
            raise ValueError(f"names {resolved}, which is not a directory; point it at the "
                             "plugins/ directory of the bot's checkout (builtins/, examples/, "
                             "user_uploads/), or unset it")
        return resolved

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @model_validator(mode="after")
    def _separate_ports(self) -> Settings:
        if self.metrics_port is not None and self.metrics_port == self.port:
            raise ValueError("METRICS_PORT must differ from PORT (or be unset: then the "
                             "probes and metrics are served on PORT)")
        return self

    def plugin_defaults(self) -> dict[str, dict[str, Any]]:
        """Per-plugin config from settings: PLUGIN_CONFIG (JSON), plus KUBECONFIG for the
        Kubernetes plugins. The operator's: nothing stored overrides it, and admins'
        settings may only narrow it (bot/plugin_host/policy/scopes.py)."""
        defaults = {name: dict(values) for name, values in self.plugin_config.items()}
        if self.kubeconfig:
            for name in KUBE_PLUGINS:
                defaults.setdefault(name, {}).setdefault("kubeconfig", self.kubeconfig)
        for key in KUBE_LIMITS:  # a limit given to one Kubernetes builtin binds both
            given = [defaults[name][key] for name in KUBE_PLUGINS
                     if key in defaults.get(name, {})]
            if len(given) == 1:
                for name in KUBE_PLUGINS:
                    defaults.setdefault(name, {}).setdefault(key, given[0])
        return defaults

    def proxy_for(self, url: str) -> str | None:
        """The proxy for `url` by the standard HTTPS_PROXY/HTTP_PROXY/ALL_PROXY/NO_PROXY rules
        (as httpx, curl and the `openai` SDK apply them); a model on this machine (Ollama on
        localhost) is never sent through a proxy, as Go's and Node's clients do."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if _loopback(host) or (self.no_proxy and urllib.request.proxy_bypass_environment(  # type: ignore[attr-defined]  # stdlib, not in typeshed
                host, {"no": self.no_proxy})):
            return None
        chosen = self.https_proxy if parts.scheme == "https" else self.http_proxy
        return chosen or self.all_proxy

    def missing_for_run(self) -> list[str]:
        """Names of the settings `bot run` needs and does not have."""
        missing = [] if self.slack_bot_token else ["SLACK_BOT_TOKEN"]
        if not self.slack_app_token and not self.slack_signing_secret:
            missing.append("SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN for Socket Mode)")
        return missing


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; malformed values raise one `ConfigError`."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except SettingsError as exc:  # a value pydantic-settings could not even decode (JSON)
        found = re.search(r'field "(\w+)"', str(exc))
        name = found.group(1).upper() if found else "a setting"
        cause = f": {exc.__cause__}" if exc.__cause__ else ""
        raise ConfigError(f"invalid settings: {name} (is not valid JSON{cause})") from None
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "settings"
            problems.append(f"{field.upper()} ({error['msg'].removeprefix('Value error, ')})")
        raise ConfigError("invalid settings: " + "; ".join(problems)) from None


def parse_uid_range(text: str) -> tuple[int, int]:
    """`200000-265535` -> (200000, 265535); room for the probes and at least one plugin."""
    low, sep, high = text.partition("-")
    if not sep or not low.strip().isdigit() or not high.strip().isdigit():
        raise ValueError("must look like 200000-265535")
    start, end = int(low), int(high)
    if start < 1000 or end - start < PROBE_UIDS + 1 or end > 2**31 - 2:
        raise ValueError(f"must start at 1000 or above and span more than {PROBE_UIDS} uids")
    return start, end


def parse_keys(text: str) -> MultiFernet:
    """The keys in `BOT_SECRET_KEY`; ValueError (settings' own) naming what is wrong."""
    keys = [part.strip() for part in text.split(",") if part.strip()]
    if not keys:
        raise ValueError(messages.secret_key_malformed())
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError:
        raise ValueError(messages.secret_key_malformed()) from None


@dataclass(frozen=True)
class LocalServer:
    """One entry of MCP_SERVERS: a stdio server the operator runs inside the sandbox."""

    command: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    permissions: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()  # read-only in the sandbox besides the system's (its code)
    memory_mb: int | None = None  # its data limit; None: PLUGIN_WORKER_MEMORY_MB


LOCAL_KEYS = {"command", "env", "permissions", "paths", "memory_mb"}
LOCAL_MEMORY_MB = (64, 65_536)


def local_servers(raw: Mapping[str, Any]) -> dict[str, LocalServer]:
    """MCP_SERVERS parsed; ValueError naming the first entry and field that is wrong."""
    servers: dict[str, LocalServer] = {}
    for name, spec in raw.items():
        problem = _local_problem(name, spec)
        if problem:
            raise ValueError(messages.mcp_local_bad(name, problem))
        servers[name] = LocalServer(command=tuple(spec["command"]),
                                    env=dict(spec.get("env") or {}),
                                    permissions=tuple(spec.get("permissions") or ()),
                                    paths=tuple(spec.get("paths") or ()),
                                    memory_mb=spec.get("memory_mb"))
    return servers


def _local_problem(name: str, spec: Any) -> str | None:
    if not PLUGIN_NAME_RE.match(name):
        return messages.bad_plugin_name(name)
    if not isinstance(spec, Mapping):
        return "must be an object with a 'command' list"
    unknown = sorted(set(spec) - LOCAL_KEYS)
    if unknown:
        return f"unknown key {unknown[0]!r} (known: {', '.join(sorted(LOCAL_KEYS))})"
    command, env = spec.get("command"), spec.get("env") or {}
    if not isinstance(command, list) or not command or not all(
            isinstance(part, str) and part for part in command):
        return "'command' must be a non-empty list of strings, e.g. [\"/usr/bin/mcp-x\"]"
    if not isinstance(env, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        return "'env' must map names to strings"
    permissions = spec.get("permissions") or []
    if not isinstance(permissions, list) or set(permissions) - set(PERMISSIONS):
        return f"'permissions' may hold only {', '.join(sorted(PERMISSIONS))}"
    paths = spec.get("paths") or []
    if not isinstance(paths, list) or not all(
            isinstance(p, str) and p.startswith("/") for p in paths):
        return "'paths' must be a list of absolute paths"
    memory = spec.get("memory_mb")
    low, high = LOCAL_MEMORY_MB
    if memory is not None and (isinstance(memory, bool) or not isinstance(memory, int)
                               or not low <= memory <= high):
        return f"'memory_mb' must be a whole number of MB from {low} to {high}"
    return None
