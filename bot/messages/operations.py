"""Sentences about running the bot: where its data is, start-up and database faults,
`bot plugin gc`, `bot doctor`. Re-exported by `bot.messages`; import them from there."""

from __future__ import annotations

__all__ = [
    "DATABASE_HINTS",
    "audit_count_not_positive",
    "cannot_read",
    "change_not_saved",
    "console_line_failed",
    "database_error",
    "database_fault",
    "database_file_gone",
    "database_file_unusable",
    "database_unreachable",
    "doctor_cluster_ok",
    "doctor_database_ok",
    "doctor_migrations_pending",
    "doctor_model_ok",
    "doctor_model_refused",
    "doctor_model_unreachable",
    "doctor_no_builtins",
    "doctor_no_database",
    "doctor_plugins_ok",
    "doctor_sandbox_ok",
    "doctor_settings_ok",
    "doctor_skipped",
    "doctor_slack_ok",
    "doctor_slack_unreachable",
    "doctor_timed_out",
    "front_busy",
    "front_no_answer",
    "front_stopped",
    "gc_done",
    "gc_kept",
    "gc_listing",
    "gc_nothing",
    "gc_question",
    "locations",
    "mention_not_saved",
    "missing_for_run",
    "new_database",
    "no_such_directory",
    "not_a_directory",
    "port_unavailable",
    "probe_database_down",
    "probe_database_slow",
    "probe_no_slack",
    "probe_stopping",
    "slack_token_rejected",
    "slack_unreachable",
    "upload_empty",
    "upload_too_large",
    "uploads_owned_elsewhere",
]


def new_database(where: str) -> str:
    return f"created a new database at {where} (DATABASE_URL chooses another)"


def uploads_owned_elsewhere(root: object, database: str) -> str:
    return (f"{root} holds the uploaded plugins of another database ({database}): this one "
            "leaves those files alone and installs nothing there. Give it its own "
            "PLUGINS_DIR, or use that database's DATABASE_URL.")


def gc_nothing(root: object) -> str:
    return f"Nothing to delete: every version directory in {root} is an installed version."


def gc_listing(count: int) -> str:
    return (f"{count} version director{'y' if count == 1 else 'ies'} no installed version "
            "uses (left by interrupted installs):")


def gc_question(count: int) -> str:
    return f"Delete {'it' if count == 1 else f'these {count}'}? [y/N] "


def gc_kept() -> str:
    return "Nothing deleted."


def gc_done(count: int) -> str:
    return f"Deleted {count} director{'y' if count == 1 else 'ies'}."


def locations(database: str, plugins_dir: object) -> str:
    return f"Database {database}; plugins {plugins_dir}"


def console_line_failed(error: BaseException) -> str:
    return f"That failed ({type(error).__name__}: {error}); the log has the details."


def slack_token_rejected(setting: str, error: str) -> str:
    return (f"Slack rejected {setting} ({error}): copy the token again from the app's "
            "settings at api.slack.com/apps")


def slack_unreachable(url: str, error: BaseException) -> str:
    return f"Slack is unreachable at {url} ({type(error).__name__}: {error or 'no answer'})"


def port_unavailable(host: str, port: int, error: OSError) -> str:
    return (f"cannot listen on {host}:{port} ({error.strerror or error}): another process "
            "has it; set PORT (or HOST) to a free one")


def database_fault(label: str, what: str) -> str:
    return f"The database {label} cannot be used: {what}."


def database_file_gone(*, replaced: bool) -> str:
    how = "replaced by another file" if replaced else "deleted"
    return (f"its file was {how} while the bot was running, so nothing more is written to "
            "it; put the file back (or restore it from a backup) and restart the bot")


def database_file_unusable(error: OSError) -> str:
    return (f"{error.strerror or error} ({error.filename or 'its directory'}); check that "
            "its directory exists and is writable")


DATABASE_HINTS = (
    ("readonly", "it is read-only (check the file, its directory and the file system)"),
    ("disk is full", "the disk is full: free some space and the bot carries on by itself"),
    ("malformed", "the file is corrupt: stop the bot, restore the file from a backup (or "
                  "move it aside to start afresh) and start again"),
    ("not a database", "the file is not an SQLite database: check DATABASE_URL"),
    ("unable to open", "the file cannot be opened: check that its directory exists and is "
                       "writable"),
    ("locked", "another process held it locked too long; try again"),
    ("disk i/o error", "the file system refused the write (read-only, or failing): check "
                       "it; the bot carries on by itself once it works"),
)


def database_unreachable(error: OSError) -> str:
    reason = error.strerror or str(error) or type(error).__name__
    return (f"the server cannot be reached ({reason}); check the host and port in "
            "DATABASE_URL and that the server is running")


def database_error(detail: str) -> str:
    lowered = detail.lower()
    for needle, hint in DATABASE_HINTS:
        if needle in lowered:
            return hint
    return detail


def change_not_saved(fault: str) -> str:
    return f"Nothing was changed: {fault}"


def mention_held(fault: str, seconds: float) -> str:
    return (f"I cannot record questions right now — {fault} I will answer this one as soon "
            f"as I can: I keep trying for {seconds:.0f} s.")


def mention_not_saved(fault: str) -> str:
    return f"I cannot take questions right now — {fault} Ask again in a moment."


def doctor_settings_ok() -> str:
    return "every setting parses"


def doctor_timed_out(seconds: float) -> str:
    return f"no answer within {seconds:g} s"


def doctor_no_database(path: object) -> str:
    return f"there is no database at {path} yet: `bot migrate` (or `bot run`) creates it"


def doctor_migrations_pending(label: str, current: str | None, head: str | None) -> str:
    return (f"{label} is at schema {current or 'none'}, this code needs {head}: run "
            "`bot migrate` (bot run does it at start)")


def doctor_database_ok(label: str, head: str | None) -> str:
    return f"{label} is readable, writable, intact and at schema {head}"


_PLUGINS_DIR_FIX = "set PLUGINS_DIR to the plugins/ directory of the bot's checkout (or unset it)"


def doctor_no_builtins(root: object) -> str:
    return f"no built-in plugins in {root}/builtins: {_PLUGINS_DIR_FIX}"


def no_builtins_at_start(root: object) -> str:
    """Said at start when PLUGINS_DIR has no builtins/ folder (a typo in it, most often)."""
    return (f"PLUGINS_DIR {root} has no builtins/ folder, so kubectl, k8sgpt and netdiag "
            f"are not offered: {_PLUGINS_DIR_FIX}.")


def doctor_plugins_ok(root: object, builtins: list[str], owner: str | None) -> str:
    uploads = f"uploads belong to {owner}" if owner else "no uploads yet"
    return f"{root}: builtins {', '.join(builtins)}; {uploads}"


def doctor_sandbox_ok(describe: str, tools: list[str]) -> str:
    return f"{describe}; a test plugin started there and offered {', '.join(tools)}"


def doctor_skipped(setting: str) -> str:
    return f"skipped ({setting} is not set)"


def doctor_slack_unreachable(url: str) -> str:
    return f"Slack did not answer at {url}: check SLACK_API_URL and the network (or proxy)"


def doctor_slack_ok(user: object, team: object) -> str:
    return f"the bot token signs in as {user} in {team}"


def doctor_model_refused(base: str, status: int) -> str:
    hint = "check OPENAI_API_KEY" if status in (401, 403) else "check OPENAI_BASE_URL"
    return f"{base}/models answered HTTP {status}: {hint}"


def doctor_model_unreachable(base: str, error: BaseException) -> str:
    return (f"{base} is unreachable ({type(error).__name__}): check OPENAI_BASE_URL and that "
            "the server is up")


def doctor_model_ok(base: str, model: str, found: bool, count: int) -> str:
    if found or not count:
        return f"{base} answers; model {model}"
    return (f"{base} answers but does not serve {model} ({count} other models): set "
            "OPENAI_MODEL to one it serves")


def doctor_no_mcp_servers() -> str:
    return "no MCP servers configured (MCP_SERVERS, /plugin mcp add)"


def doctor_mcp_ok(label: str, tools: list[str]) -> str:
    shown = ", ".join(tools[:5]) + (f" and {len(tools) - 5} more" if len(tools) > 5 else "")
    return f"{label} answers and lists {len(tools)} tool(s): {shown or 'none'}"


def doctor_cluster_ok(server: str, version: object) -> str:
    return f"{server} answers (Kubernetes {version or 'version unknown'})"


def cannot_read(error: OSError) -> str:
    return f"cannot read {error.filename or 'it'}: {error.strerror or error}"


def upload_empty(filename: str) -> str:
    return f"'{filename}' is empty (0 bytes): nothing to install"


def upload_too_large(size: int, limit: int) -> str:
    return f"{size:,} bytes is over the {limit:,}-byte upload limit"


def no_such_directory(path: object) -> str:
    return f"{path} does not exist"


def not_a_directory(path: object) -> str:
    return f"{path} is not a directory: give the plugin's package directory"


def audit_count_not_positive(value: int) -> str:
    return f"'{value}' is not a positive number. Usage: /plugin audit [N]"


def missing_for_run(missing: list[str]) -> str:
    return (f"cannot start: missing settings {', '.join(missing)} (Slack app credentials; "
            "see README, 'Connect to Slack'; `bot console` needs none)")


# -- /readyz: each check's reason, in the JSON a probe (or an operator's curl) reads ----------

def probe_stopping() -> str:
    return "shutting down: finishing the runs in flight"


def front_busy() -> str:
    return "the bot is behind on Slack's requests: try again in a few seconds"


def front_no_answer() -> str:
    return "the bot did not answer this request in time: try again in a few seconds"


def front_stopped() -> str:
    return ("the Slack endpoint's process stopped unexpectedly: shutting down so that the "
            "bot is restarted")


def probe_no_slack() -> str:
    return "not connected to Slack (Socket Mode): reconnecting"


def probe_database_slow(seconds: float) -> str:
    return f"the database did not answer within {seconds:g} s"


def probe_database_down(fault: str) -> str:
    return f"the database is unusable: {fault}"
