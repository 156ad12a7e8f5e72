"""Sentences of the terminal surfaces — `bot console`, `bot plugin …`, `bot migrate` — the
help pages of `/plugin` and the console, and what an empty listing says. Re-exported by
`bot.messages`; import them from there."""

from __future__ import annotations

__all__ = [
    "CONSOLE_HELP",
    "PLUGIN_HELP",
    "audit_empty",
    "call_arguments_not_json",
    "call_arguments_not_object",
    "console_ask_empty",
    "console_bye",
    "console_leave_hint",
    "console_prompt",
    "console_unknown_command",
    "console_upload_usage",
    "no_plugins",
    "no_runs",
    "no_tools",
    "packed",
    "scaffolded",
    "schema_current",
    "uploads_off",
]

PLUGIN_HELP = """\
/plugin list                     every plugin, its version, status and tools
/plugin info NAME                details, permissions, versions and last error
/plugin tools [NAME]             the tools the agent can call (of one plugin)
/plugin enable NAME [in #chan ... | in dm | everywhere]
                                 offer a plugin's tools to the agent (there) (admins)
/plugin disable NAME [in #chan ...]
                                 stop offering them (there)                 (admins)
/plugin set NAME key=value ... [in #chan | everywhere]
                                 a setting its tools get; key= removes it   (admins)
/plugin settings NAME            the settings set with /plugin set
/plugin remove NAME              delete an uploaded plugin                  (admins)
/plugin versions NAME            installed versions, the active one starred
/plugin rollback NAME [VERSION]  go back to an earlier version              (admins)
/plugin reload                   re-read every plugin from disk and database (admins)
/plugin approval TOOL required|auto|default
                                 whether TOOL's calls wait for an admin   (admins)
/plugin mcp add NAME URL [header Name=value ...]
                                 add (or update) a remote MCP server, disabled (admins)
/plugin mcp accept NAME          offer the tools its server lists now, once reviewed (admins)
/plugin audit [N]                the last N audit entries (default 20)
/plugin runs [N]                 the last N agent runs and the tokens they used (default 20)
/plugin help                     this text"""

CONSOLE_HELP = """\
Ask anything (optionally starting with @bot) and the agent answers with the enabled tools.
  /plugin help       admin commands (list, info, enable, disable, versions, rollback, …)
  upload PATH        install a plugin from a .zip, a .py or a package directory
  channel ID|dm      ask as if in that Slack channel (its plugins and settings);
                     `channel console` goes back to the console's own (everywhere only)
  help               this text
  exit or Ctrl-D     leave (Ctrl-C stops an answer in progress)"""


def console_bye() -> str:
    return "Bye."


def console_leave_hint() -> str:
    return "(Ctrl-D or exit to leave)"


def console_unknown_command(word: str) -> str:
    return f"Unknown command {word}. Type help."


def console_ask_empty() -> str:
    return "Ask a question after @bot."


def console_upload_usage() -> str:
    return "Usage: upload PATH  (a .zip, a .py or a plugin package directory)"


def console_prompt() -> str:
    return "Type a question, /plugin help, upload PATH, or help. Ctrl-D exits."


def schema_current() -> str:
    return "Database schema is up to date."


def packed(output: object, size: int) -> str:
    return f"Wrote {output} ({size:,} bytes). Check it with: bot plugin check {output}"


def scaffolded(root: object, name: str) -> str:
    return (f"Created {root}/ with a tool '{name}_greet' and tests/.\n"
            f"Next: edit {root}/__init__.py, run `pytest {root}/tests`, then\n"
            f"  bot plugin check {root}\n  bot plugin install {root}")


def call_arguments_not_json(error: object) -> str:
    return f"ARGUMENTS must be a JSON object, e.g. '{{\"host\": \"example.com\"}}' ({error})"


def call_arguments_not_object(kind: str) -> str:
    return f"ARGUMENTS must be a JSON object, got {kind}"


def no_plugins() -> str:
    return "No plugins installed."


def no_tools() -> str:
    return "No tools."


def no_runs() -> str:
    return "No agent run has finished yet."


def audit_empty() -> str:
    return "The audit trail is empty."


def uploads_off() -> str:
    return "Uploads are off (BOT_ADMIN_CHANNEL is not set)."
