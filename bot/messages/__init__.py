"""Every user-facing sentence the bot says (Slack, console, CLI) is built here."""

from __future__ import annotations

from collections.abc import Sequence

# The topic modules' sentences are `messages.<name>` too (re-exported by name).
from bot.messages.approvals import (
    APPROVAL_ADMINS_ONLY as APPROVAL_ADMINS_ONLY,
    APPROVAL_NOT_PENDING as APPROVAL_NOT_PENDING,
    approval_approved as approval_approved,
    approval_arguments_changed as approval_arguments_changed,
    approval_arguments_file as approval_arguments_file,
    approval_arguments_unshown as approval_arguments_unshown,
    approval_decided_card as approval_decided_card,
    approval_denied as approval_denied,
    approval_expired as approval_expired,
    approval_expired_card as approval_expired_card,
    approval_long_arguments as approval_long_arguments,
    approval_needed as approval_needed,
    approval_run_ended as approval_run_ended,
    approval_run_ended_card as approval_run_ended_card,
    approval_unavailable as approval_unavailable,
)
from bot.messages.mcp import (
    mcp_added as mcp_added,
    mcp_address_refused as mcp_address_refused,
    mcp_answer_too_large as mcp_answer_too_large,
    mcp_away as mcp_away,
    mcp_binary_content as mcp_binary_content,
    mcp_call_refused as mcp_call_refused,
    mcp_configured_not_removable as mcp_configured_not_removable,
    mcp_connect_timeout as mcp_connect_timeout,
    mcp_connection_lost as mcp_connection_lost,
    mcp_description as mcp_description,
    mcp_endless_pages as mcp_endless_pages,
    mcp_error_without_text as mcp_error_without_text,
    mcp_header_name_bad as mcp_header_name_bad,
    mcp_header_reserved as mcp_header_reserved,
    mcp_header_unparsable as mcp_header_unparsable,
    mcp_header_value_bad as mcp_header_value_bad,
    mcp_host_closed as mcp_host_closed,
    mcp_http_status as mcp_http_status,
    mcp_list_timeout as mcp_list_timeout,
    mcp_local_bad as mcp_local_bad,
    mcp_local_killed as mcp_local_killed,
    mcp_local_not_found as mcp_local_not_found,
    mcp_local_out_of_memory as mcp_local_out_of_memory,
    mcp_local_taken as mcp_local_taken,
    mcp_name_taken as mcp_name_taken,
    mcp_no_rollback as mcp_no_rollback,
    mcp_not_configured as mcp_not_configured,
    mcp_not_set_up as mcp_not_set_up,
    mcp_nothing_to_review as mcp_nothing_to_review,
    mcp_resource_link as mcp_resource_link,
    mcp_review_accepted as mcp_review_accepted,
    mcp_review_needed as mcp_review_needed,
    mcp_row_missing as mcp_row_missing,
    mcp_too_many_tools as mcp_too_many_tools,
    mcp_tool_skipped as mcp_tool_skipped,
    mcp_tools_dropped as mcp_tools_dropped,
    mcp_unreachable as mcp_unreachable,
    mcp_url_has_credentials as mcp_url_has_credentials,
    mcp_url_not_http as mcp_url_not_http,
    mcp_url_too_long as mcp_url_too_long,
    mcp_usage as mcp_usage,
    mcp_with_output as mcp_with_output,
    secret_key_cannot_open as secret_key_cannot_open,
    secret_key_malformed as secret_key_malformed,
    secret_key_missing_to_open as secret_key_missing_to_open,
    secret_key_needed as secret_key_needed,
    upload_shadows_mcp as upload_shadows_mcp,
)
from bot.messages.operations import (
    DATABASE_HINTS as DATABASE_HINTS,
    audit_count_not_positive as audit_count_not_positive,
    cannot_read as cannot_read,
    change_not_saved as change_not_saved,
    console_line_failed as console_line_failed,
    database_error as database_error,
    database_fault as database_fault,
    database_file_gone as database_file_gone,
    database_file_unusable as database_file_unusable,
    database_unreachable as database_unreachable,
    doctor_cluster_ok as doctor_cluster_ok,
    doctor_database_ok as doctor_database_ok,
    doctor_mcp_ok as doctor_mcp_ok,
    doctor_migrations_pending as doctor_migrations_pending,
    doctor_model_ok as doctor_model_ok,
    doctor_model_refused as doctor_model_refused,
    doctor_model_unreachable as doctor_model_unreachable,
    doctor_no_builtins as doctor_no_builtins,
    doctor_no_database as doctor_no_database,
    doctor_no_mcp_servers as doctor_no_mcp_servers,
    doctor_plugins_ok as doctor_plugins_ok,
    doctor_sandbox_ok as doctor_sandbox_ok,
    doctor_settings_ok as doctor_settings_ok,
    doctor_skipped as doctor_skipped,
    doctor_slack_ok as doctor_slack_ok,
    doctor_slack_unreachable as doctor_slack_unreachable,
    doctor_timed_out as doctor_timed_out,
    front_busy as front_busy,
    front_no_answer as front_no_answer,
    front_stopped as front_stopped,
    gc_done as gc_done,
    gc_kept as gc_kept,
    gc_listing as gc_listing,
    gc_nothing as gc_nothing,
    gc_question as gc_question,
    locations as locations,
    mention_held as mention_held,
    mention_not_saved as mention_not_saved,
    missing_for_run as missing_for_run,
    new_database as new_database,
    no_builtins_at_start as no_builtins_at_start,
    no_such_directory as no_such_directory,
    not_a_directory as not_a_directory,
    port_unavailable as port_unavailable,
    probe_database_down as probe_database_down,
    probe_database_slow as probe_database_slow,
    probe_no_slack as probe_no_slack,
    probe_stopping as probe_stopping,
    slack_token_rejected as slack_token_rejected,
    slack_unreachable as slack_unreachable,
    upload_empty as upload_empty,
    upload_too_large as upload_too_large,
    uploads_owned_elsewhere as uploads_owned_elsewhere,
)
from bot.messages.replicas import (
    approval_auto_refused_for_write as approval_auto_refused_for_write,
    approval_marker as approval_marker,
    approval_mode_unknown as approval_mode_unknown,
    approval_rule_set as approval_rule_set,
    approval_usage as approval_usage,
    archive_corrupt as archive_corrupt,
    loaded_on as loaded_on,
    no_stored_archive as no_stored_archive,
    not_loaded_yet as not_loaded_yet,
    replica_problem as replica_problem,
)
from bot.messages.runs import (
    AGENT_VIEW_PROMPTS_TITLE as AGENT_VIEW_PROMPTS_TITLE,
    AGENT_VIEW_STATUS as AGENT_VIEW_STATUS,
    FEEDBACK_NO_SUCH_ANSWER as FEEDBACK_NO_SUCH_ANSWER,
    FEEDBACK_OTHER_CHANNEL as FEEDBACK_OTHER_CHANNEL,
    FEEDBACK_UNREADABLE as FEEDBACK_UNREADABLE,
    feedback_recorded as feedback_recorded,
    feedback_summary as feedback_summary,
    output_bad_pattern as output_bad_pattern,
    output_grep_footer as output_grep_footer,
    output_not_kept as output_not_kept,
    output_page_footer as output_page_footer,
    output_paged as output_paged,
)
from bot.messages.scopes import (
    assignments as assignments,
    channel_unparsable as channel_unparsable,
    cluster_not_allowed_here as cluster_not_allowed_here,
    cluster_unknown as cluster_unknown,
    console_channel as console_channel,
    no_settings as no_settings,
    scope_already as scope_already,
    scope_everywhere_cannot_remove as scope_everywhere_cannot_remove,
    scope_kept as scope_kept,
    scope_not_there as scope_not_there,
    scope_usage as scope_usage,
    setting_key_bad as setting_key_bad,
    setting_looks_secret as setting_looks_secret,
    setting_not_settable as setting_not_settable,
    setting_unparsable as setting_unparsable,
    setting_value_bad as setting_value_bad,
    setting_value_too_long as setting_value_too_long,
    setting_widens as setting_widens,
    settings_admins_only as settings_admins_only,
    settings_changed as settings_changed,
    settings_usage as settings_usage,
    still_enabled as still_enabled,
    tool_no_longer_offered as tool_no_longer_offered,
    tool_not_offered_here as tool_not_offered_here,
    where_label as where_label,
)
from bot.messages.terminal import (
    CONSOLE_HELP as CONSOLE_HELP,
    PLUGIN_HELP as PLUGIN_HELP,
    audit_empty as audit_empty,
    call_arguments_not_json as call_arguments_not_json,
    call_arguments_not_object as call_arguments_not_object,
    console_ask_empty as console_ask_empty,
    console_bye as console_bye,
    console_leave_hint as console_leave_hint,
    console_prompt as console_prompt,
    console_unknown_command as console_unknown_command,
    console_upload_usage as console_upload_usage,
    no_plugins as no_plugins,
    no_runs as no_runs,
    no_tools as no_tools,
    packed as packed,
    scaffolded as scaffolded,
    schema_current as schema_current,
    uploads_off as uploads_off,
)


def did_you_mean(suggestions: Sequence[str]) -> str:
    if not suggestions:
        return ""
    quoted = " or ".join(f"'{s}'" for s in suggestions)
    return f" Did you mean {quoted}?"


def not_found(kind: str, name: str, suggestions: Sequence[str]) -> str:
    return f"No {kind} named '{name}'.{did_you_mean(suggestions)}"


def unknown_tool(name: str, suggestions: Sequence[str]) -> str:
    return (f"No enabled plugin provides a tool named '{name}' (its plugin may be disabled or "
            f"removed).{did_you_mean(suggestions)}")


def bad_json_arguments(tool: str, error: str) -> str:
    return f"Arguments for '{tool}' are not valid JSON: {error}."


def arguments_not_object(tool: str, kind: str) -> str:
    return f"Arguments for '{tool}' must be a JSON object, got {kind}."


def invalid_arguments(tool: str, problems: Sequence[str]) -> str:
    return f"Invalid arguments for '{tool}': " + "; ".join(problems) + "."


def tool_timed_out(tool: str, seconds: float) -> str:
    return f"Tool '{tool}' timed out after {seconds:g} s and was stopped."


def tool_failed(tool: str, error: str) -> str:
    return f"Tool '{tool}' failed: {error}"


def tool_result_unrenderable(tool: str) -> str:
    return (f"Tool '{tool}' failed: its result is nested too deeply (or otherwise cannot be "
            "turned into text); it was refused.")


def truncated(hidden: int) -> str:
    return f"\n… [output truncated: {hidden} more characters not shown]"


def too_many_tools(plugin: str, adding: int, total: int, limit: int) -> str:
    return (f"Cannot enable '{plugin}': with its {adding} tools a channel would be offered "
            f"{total}, over the model API's limit of {limit} tools per request. Disable a "
            f"plugin that channel does not need, or enable this one only where it is needed "
            f"(`/plugin enable {plugin} in #channel`).")


def too_many_tools_offered(total: int, limit: int) -> str:
    return (f"I cannot ask the model: {total} tools are enabled for this channel, over its "
            f"API's limit of {limit} per request. Ask an admin to disable a plugin this "
            "channel does not need (`/plugin list`).")


def tool_clash(plugin: str, tool: str, other: str) -> str:
    return (f"Cannot enable '{plugin}': its tool '{tool}' is already provided by the enabled "
            f"plugin '{other}'. Disable '{other}' first.")


def enabled(name: str, version: str | None, tools: Sequence[str], where: str = "") -> str:
    """`where`: `everywhere` or `in C1, dm` when channel scopes are in play."""
    listed = ", ".join(tools) if tools else "no tools"
    return f"Enabled {name} {version or ''} {where}".rstrip() + f" ({listed})."


def disabled(name: str) -> str:
    return f"Disabled {name}. Its tools are no longer offered to the agent."


def already_disabled(name: str) -> str:
    return f"{name} is already disabled."


def removed(name: str) -> str:
    return f"Removed {name}: its files and versions are gone; the audit trail is kept."


def builtin_not_removable(name: str) -> str:
    return f"'{name}' is a built-in plugin and cannot be removed; disable it instead."


def files_missing(path: str) -> str:
    return f"its files are missing: {path}"


def files_changed(name: str, version: str, found: str) -> str:
    return (f"its files on this machine say version {found}, not the {version} installed; "
            f"install {name} again")


def no_sandbox_for_uploads() -> str:
    return "uploaded plugins need the worker sandbox, which is not available in this process"


# -- the plugin sandbox ------------------------------------------------------------------

def uploads_disabled(problem: str) -> str:
    return f"uploaded plugins are disabled: {problem}"


def sandbox_in_force(kind: str, python: str, uid_range: tuple[int, int] | None) -> str:
    who = f", each plugin under its own uid from {uid_range[0]}-{uid_range[1]}" if uid_range \
        else ""
    return f"uploaded plugins run in {kind} workers ({python}{who})"


def bwrap_missing() -> str:
    return ("bubblewrap is not installed (apt-get install bubblewrap); or, with the bot "
            "running as root, set PLUGIN_SANDBOX=process")


def bwrap_unusable(detail: str) -> str:
    return (f"bubblewrap cannot start a sandbox here ({detail}): the kernel refuses "
            "unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, or "
            "kernel.apparmor_restrict_unprivileged_userns=0; in a container, allow them in "
            "its security profile)")


def process_sandbox_needs_root() -> str:
    return ("PLUGIN_SANDBOX=process needs the bot to run as root (each plugin runs under its "
            "own uid); run it as root or use bubblewrap (PLUGIN_SANDBOX=auto)")


def process_sandbox_needs_tools(missing: Sequence[str]) -> str:
    return (f"PLUGIN_SANDBOX=process needs util-linux's {', '.join(missing)} "
            "(apt-get install util-linux)")


def no_sandbox_python(minimum: tuple[int, int], uid: int | None, failures: str) -> str:
    who = f"uid {uid}" if uid is not None else "this user"
    return (f"no Python {minimum[0]}.{minimum[1]}+ interpreter that {who} can run "
            f"({failures}); set PLUGIN_PYTHON")


def pack_refused_links(root: object, names: Sequence[str]) -> str:
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return (f"{root} holds symbolic links or special files, which are never packed or "
            f"followed: {shown}. Replace them with the files themselves.")


def no_free_sandbox_uid(name: str, uids: range) -> str:
    return (f"Cannot install {name}: all {len(uids):,} sandbox uids of PLUGIN_UID_RANGE are "
            "taken; remove unused plugins or widen the range.")


def sandbox_failed_to_start(detail: str) -> str:
    return f"the sandbox could not start the worker: {detail}"


def sandbox_label(source: str, kind: str | None, transport: str | None = None) -> str:
    """Where a plugin's code runs, for `info`, `list` and the install card."""
    if source == "builtin":
        return "in-process"
    if transport == "http":
        return "remote"
    return {"bwrap": "bubblewrap", "process": "process"}.get(kind or "", "none")


def installed(name: str, version: str, previous: str | None, enabled: bool) -> str:
    upgrade = f" (replacing {previous})" if previous else ""
    state = ("It is enabled: the agent uses the new code now." if enabled else
             f"It is disabled until an admin enables {name}.")
    return f"Installed {name} {version}{upgrade}. {state}"


def same_version(name: str, version: str, *, identical: bool) -> str:
    if identical:
        return f"{name} {version} is already installed with exactly this content."
    return (f"{name} {version} is already installed with different content: bump the version "
            "in get_manifest() and upload again.")


def shadows_builtin(name: str) -> str:
    return f"'{name}' is the name of a built-in plugin; choose another name."


def builtin_no_rollback(name: str) -> str:
    return f"'{name}' is built in: its only version is the one shipped with the bot."


def nothing_to_roll_back(name: str, version: str | None) -> str:
    return f"{name} has no version installed before {version}; nothing to roll back to."


def already_at(name: str, version: str) -> str:
    return f"{name} is already at version {version}."


def rolled_back(name: str, previous: str | None, version: str) -> str:
    return f"Rolled {name} back from {previous} to {version}."


def auto_disabled(count: int, last_error: str) -> str:
    return (f"disabled automatically after {count} crashes or timeouts in a row "
            f"(last: {last_error})")


def check_passed(name: str, version: str) -> str:
    return f"{name} {version} passed every install check (nothing was installed)."


def check_already_installed(name: str, version: str) -> str:
    return f"It is installed already: {name} {version}, with exactly this content."


def check_not_compared(reason: str) -> str:
    return f"Not compared with the installed versions: {reason}."


def no_database_yet(label: str) -> str:
    return f"there is no database at {label} yet"


def install_refused(filename: str, problems: Sequence[object]) -> str:
    if len(problems) == 1:
        return f"Refused {filename}: {problems[0]}"
    return f"Refused {filename} ({len(problems)} problems):\n" + "\n".join(
        f"- {p}" for p in problems)


def bad_plugin_name(name: str) -> str:
    return (f"'{name}' is not a valid plugin name: use lowercase letters, digits and _, "
            "starting with a letter (at most 64 characters)")


def shadows_stdlib(name: str) -> str:
    return f"'{name}' is the name of a Python standard-library module; choose another name."


def model_auth(url: str) -> str:
    return (f"The model endpoint ({url}) rejected the credentials: check OPENAI_API_KEY.")


def model_not_found(model: str, url: str) -> str:
    return (f"The model '{model}' was not found at {url}: check OPENAI_MODEL (and that the "
            "key has access to it).")


TRY_AGAIN = "; please try again."


def tried_for(seconds: float) -> str:
    """Replaces TRY_AGAIN when the retries took a while: how long the user waited."""
    return f" (tried for {seconds:.0f} s); please try again."


def model_rate_limited(url: str) -> str:
    return f"The model endpoint ({url}) is rate limiting us; please try again in a minute."


def model_quota(url: str) -> str:
    return (f"The model endpoint ({url}) says the account has run out of quota: check the "
            "plan and billing of the account behind OPENAI_API_KEY.")


def model_timeout(url: str, seconds: float) -> str:
    return (f"The model endpoint ({url}) did not answer within {seconds:g} s (OPENAI_TIMEOUT), "
            "retries included; please try again.")


def model_unreachable(url: str) -> str:
    return (f"The model endpoint {url} is unreachable: check OPENAI_BASE_URL and that the "
            "server is up.")


def model_failed(url: str, status: int | None) -> str:
    code = f" (HTTP {status})" if status else ""
    return f"The model endpoint ({url}) failed{code}; please try again."


def model_rejected(url: str, status: int, detail: str) -> str:
    return f"The model endpoint ({url}) refused the request (HTTP {status}): {detail}"


def model_bad_reply(url: str) -> str:
    return (f"The model endpoint ({url}) did not answer with a chat completion: check "
            "OPENAI_BASE_URL (OpenAI-compatible servers usually end in /v1).")


def model_empty(url: str) -> str:
    return f"The model endpoint ({url}) returned no answer; please try again."


def llm_not_configured() -> str:
    return ("No language model is configured: set OPENAI_API_KEY (or OPENAI_BASE_URL for a "
            "local OpenAI-compatible server such as Ollama) and restart.")


def repeated_call(tool: str) -> str:
    return (f"Refused: '{tool}' was already called twice with exactly these arguments in this "
            "run. Use the earlier results, or change the arguments.")


def tools_summary(tools: Sequence[tuple[str, bool]]) -> str:
    if not tools:
        return "no tools ran"
    return ", ".join(f"{name} ({'ok' if ok else 'failed'})" for name, ok in tools)


def no_answer(steps: int, tools: Sequence[tuple[str, bool]]) -> str:
    return (f"I could not reach an answer within {steps} steps. Tools run: "
            f"{tools_summary(tools)}. Try a narrower question.")


def run_cancelled(tools: Sequence[tuple[str, bool]]) -> str:
    return f"Stopped. Tools that had run: {tools_summary(tools)}."


def run_interrupted(tools: Sequence[tuple[str, bool]]) -> str:
    ran = f" Tools that had run: {tools_summary(tools)}." if tools else ""
    return "The bot was restarting and stopped before answering; please ask again." + ran


def run_not_started() -> str:
    return "The bot was restarting before it could start on this; please ask again."


def run_failed(run_id: str) -> str:
    return f"Something went wrong inside the bot; it is logged as run {run_id}."


def not_admin() -> str:
    return ("You are not allowed to change plugins: only the users in BOT_ADMIN_USERS can. "
            "The attempt was recorded.")


def reloaded(count: int) -> str:
    return f"Reloaded {count} plugins from disk and database."


def upload_not_admin(name: str) -> str:
    return (f"Only admins can install plugins: nothing was installed from {name}. Ask one of "
            "the BOT_ADMIN_USERS to upload it.")


def download_refused_host(host: str) -> str:
    return (f"refused to fetch the file from {host}: the bot sends its token only to "
            "Slack's own hosts")


def download_http_status(status: int) -> str:
    return f"Slack answered HTTP {status} for the file"


def download_too_large(limit: int) -> str:
    return f"the file is larger than {limit:,} bytes"


def download_redirects() -> str:
    return "too many redirects"


def download_not_zip() -> str:
    return ("Slack sent a web page instead of the file (is the files:read scope granted?); "
            "nothing was installed.")


def auto_disabled_notice(name: str, reason: str | None) -> str:
    return (f":rotating_light: Plugin `{name}` was {reason or 'disabled automatically'}. "
            f"Its tools are off until an admin enables it again (`/plugin enable {name}`).")


def answer_attached() -> str:
    return "_The full answer is long: it is attached as answer.md._"


# -- Slack runs, approvals and /plugin ----------------------------------------------------

RUN_FINISHED = "That run has already finished."
RUN_STOP_NOT_ALLOWED = "Only the person who asked, or an admin, can stop this run."
RUN_LOST = "That run was lost when the bot restarted; please ask again."
EMPTY_MENTION = "Ask me something after the mention, e.g. `@bot why is checkout-api crashlooping?`"
WORKING = "Working on it…"
RUN_NOT_STARTED = "Stopped before it started."
STATUS_DONE = ":white_check_mark: Done"
STATUS_STOPPED = ":octagonal_sign: Stopped"
STATUS_INTERRUPTED = ":warning: Interrupted: the bot restarted"
STATUS_FAILED = ":warning: Could not answer"
STATUS_UNDELIVERED = ":warning: Answered, but Slack did not take the answer: ask again"


def answer_continues() -> str:
    return "\n\n_The answer is long: it continues in the messages below._"


def tool_calls_count(n: int) -> str:
    return f" — {n} tool call{'s' if n != 1 else ''}" if n else ""


def command_unparsable(error: object, help_text: str) -> str:
    return f"Could not parse that command ({error}).\n\n{help_text}"


def unknown_subcommand(sub: str, close: Sequence[str], help_text: str) -> str:
    return f"Unknown subcommand '{sub}'.{did_you_mean(close)}\n\n{help_text}"


def command_needs_name(sub: str, help_text: str) -> str:
    return f"Usage: /plugin {sub} NAME\n\n{help_text}"


def audit_count_not_a_number(value: str) -> str:
    return f"'{value}' is not a number. Usage: /plugin audit [N]"

