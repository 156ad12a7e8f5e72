"""Plain-text views for the CLI and the console (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence

from bot import messages
from bot.plugin_host import EVERYWHERE, InstallResult, McpInfo, PluginInfo, ScopedSettings
from bot.records import RunUsage
from bot.store.audit import AuditEntry


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
              for row in rows]
    return "\n".join(lines)


def plugin_list(plugins: Sequence[PluginInfo]) -> str:
    if not plugins:
        return messages.no_plugins()
    replicas = any(p.replicas for p in plugins)
    scoped = any(p.channels is not None for p in plugins)
    rows = [[p.name, p.version or "-", p.source, p.sandbox, p.status,
             *([_where(p)] if scoped else []), *([_loaded(p)] if replicas else []),
             ", ".join(p.tool_names) or "-"]
            for p in plugins]
    text = table(["NAME", "VERSION", "SOURCE", "RUNS IN", "STATUS",
                  *(["WHERE"] if scoped else []), *(["LOADED"] if replicas else []),
                  "TOOLS"], rows)
    errors = [f"{p.name}: {p.error}" for p in plugins if p.error]
    errors += [f"{p.name}: " + messages.replica_problem(load.replica, load.error or "")
               for p in plugins for load in p.replica_problems if load.error != p.error]
    if errors:
        text += "\n\nErrors:\n" + "\n".join(errors)
    return text


def _where(p: PluginInfo) -> str:
    """Where an enabled plugin is offered: `everywhere`, or its channels."""
    if p.channels is None:
        return "everywhere" if p.enabled else "-"
    return ", ".join(p.channels) if p.enabled else f"({', '.join(p.channels)})"


def settings_list(p: PluginInfo) -> str:
    """`/plugin settings NAME`: the admins' settings, everywhere first, then per channel."""
    if not p.settings:
        return messages.no_settings(p.name)
    return f"Settings of {p.name}:\n" + "\n".join(f"  {line}"
                                                  for line in settings_lines(p.settings))


def settings_lines(settings: ScopedSettings) -> list[str]:
    """Each scope's settings, everywhere first."""
    order = sorted(settings, key=lambda scope: (scope != EVERYWHERE, scope))
    return [f"{messages.where_label(None if s == EVERYWHERE else [s])}: "
            + messages.assignments(dict(sorted(settings[s].items()))) for s in order]


def _loaded(p: PluginInfo) -> str:
    """`2/3`: on how many live replicas an enabled plugin runs its active version."""
    return f"{p.loaded_count}/{p.replicas}" if p.enabled else "-"


def replica_lines(p: PluginInfo) -> list[str]:
    """Where an enabled plugin is loaded, and each replica's problem (none without
    replicas: a console, or no `bot run` beating)."""
    if not p.enabled or not p.replicas:
        return []
    return [messages.loaded_on(p.loaded_count, p.replicas),
            *(messages.replica_problem(load.replica, load.error or "")
              for load in p.replica_problems)]


def plugin_detail(p: PluginInfo) -> str:
    lines = [
        f"Name:        {p.name}",
        f"Version:     {p.version or '-'}",
        f"Source:      {p.source}",
        f"Runs in:     {p.sandbox}",
        f"Status:      {p.status}" + ("" if p.enabled or p.status != "error" else
                                      " (not enabled)"),
        f"Description: {p.description or '-'}",
        f"Author:      {p.author or '-'}",
        f"Permissions: {', '.join(p.permissions) or 'none'}",
    ]
    if p.error:
        lines.append(f"Error:       {p.error}")
    lines.append(f"Where:       {messages.where_label(p.channels)}"
                 + ("" if p.enabled else " (when enabled)"))
    lines += [f"Setting:     {line}" for line in settings_lines(p.settings)]
    if p.mcp is not None:
        lines += _mcp_lines(p.mcp)
    placement = replica_lines(p)
    if placement:
        lines.append(f"Replicas:    {placement[0]}")
        lines += [f"  {line}" for line in placement[1:]]
    lines.append("Tools:" if p.tools else "Tools:       none")
    for tool in p.tools:
        approval = messages.approval_marker(tool.requires_approval, tool.rule)
        lines.append(f"  {tool.name}{approval}: {tool.description}")
    if p.versions:
        lines.append("Versions:")
        for v in p.versions:
            marker = "*" if v.active else " "
            when = v.installed_at.strftime("%Y-%m-%d %H:%M UTC")
            lines.append(f" {marker} {v.version}  sha256:{v.sha256[:12]}  {when}  "
                         f"by {v.installed_by}")
    return "\n".join(lines)


def _mcp_lines(server: McpInfo) -> list[str]:
    lines = [f"Server:      {server.server or 'not reached yet'}",
             f"URL:         {server.url}" if server.url else "Transport:   stdio (MCP_SERVERS)"]
    if server.url:
        lines.append(f"Headers:     {', '.join(server.header_names) or 'none'}"
                     + (" (values stored encrypted, never shown)" if server.header_names
                        else ""))
    if server.last_error:
        lines.append(f"Last error:  {server.last_error}")
    if server.pending:
        lines.append(f"To review:   the server lists other tools now ({server.pending}); "
                     "the reviewed ones are offered until /plugin mcp accept")
    return lines


def audit_list(events: Sequence[AuditEntry]) -> str:
    if not events:
        return messages.audit_empty()
    rows = [[e.at.strftime("%Y-%m-%d %H:%M:%S"), e.actor, e.action, e.target, e.outcome,
             (e.detail or "").splitlines()[0][:80] if e.detail else ""] for e in events]
    return table(["WHEN (UTC)", "ACTOR", "ACTION", "TARGET", "OUTCOME", "DETAIL"], rows)


def run_list(runs: Sequence[RunUsage]) -> str:
    if not runs:
        return messages.no_runs()
    rows = [[r.at.strftime("%Y-%m-%d %H:%M:%S") if r.at else "", r.run_id, r.user or "",
             r.channel or "", r.status, str(r.steps), f"{r.prompt_tokens:,}",
             f"{r.completion_tokens:,}", _votes(r)] for r in runs]
    total = sum(r.prompt_tokens + r.completion_tokens for r in runs)
    headers = ["WHEN (UTC)", "RUN", "USER", "CHANNEL", "ENDED", "STEPS", "PROMPT TOKENS",
               "COMPLETION TOKENS", "FEEDBACK"]
    return table(headers, rows) + f"\n{total:,} tokens in these {len(runs)} runs."


def _votes(run: RunUsage) -> str:
    if not run.good and not run.bad:
        return "-"
    return " ".join(part for part in (f"+{run.good}" if run.good else "",
                                      f"-{run.bad}" if run.bad else "") if part)


def version_list(p: PluginInfo) -> str:
    if not p.versions:
        return f"{p.name} has no installed versions."
    rows = [["*" if v.active else "", v.version, v.sha256[:12],
             v.installed_at.strftime("%Y-%m-%d %H:%M"), v.installed_by] for v in p.versions]
    return table(["", "VERSION", "SHA256", "INSTALLED (UTC)", "BY"], rows)


def install_result(result: InstallResult) -> str:
    if not result.ok:
        return result.message
    lines = [result.message,
             f"  name:        {result.name}",
             f"  version:     {result.version}",
             f"  tools:       {', '.join(result.tools) or 'none'}",
             f"  permissions: {', '.join(result.permissions) or 'none'}",
             f"  runs in:     {result.sandbox}",
             f"  sha256:      {result.sha256}"]
    lines += [f"  warning:     {w}" for w in result.warnings]
    return "\n".join(lines)


def tool_list(plugins: Sequence[PluginInfo]) -> str:
    rows = [[t.name, p.name, "enabled" if p.status == "enabled" else p.status,
             ("[approval] " if t.requires_approval else "") + t.description]
            for p in plugins for t in p.tools]
    if not rows:
        return messages.no_tools()
    return table(["TOOL", "PLUGIN", "STATUS", "DESCRIPTION"], rows)
