"""Sentences about MCP servers as plugins and the credentials kept for them. Re-exported by
`bot.messages`; import them from there. A header's value is never part of any of them."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "mcp_added",
    "mcp_address_refused",
    "mcp_answer_too_large",
    "mcp_away",
    "mcp_binary_content",
    "mcp_call_refused",
    "mcp_configured_not_removable",
    "mcp_connect_timeout",
    "mcp_connection_lost",
    "mcp_description",
    "mcp_endless_pages",
    "mcp_error_without_text",
    "mcp_header_name_bad",
    "mcp_header_reserved",
    "mcp_header_unparsable",
    "mcp_header_value_bad",
    "mcp_host_closed",
    "mcp_http_status",
    "mcp_list_timeout",
    "mcp_local_bad",
    "mcp_local_taken",
    "mcp_name_taken",
    "mcp_no_rollback",
    "mcp_not_configured",
    "mcp_not_set_up",
    "mcp_nothing_to_review",
    "mcp_resource_link",
    "mcp_review_accepted",
    "mcp_review_needed",
    "mcp_row_missing",
    "mcp_too_many_tools",
    "mcp_tool_skipped",
    "mcp_tools_dropped",
    "mcp_unreachable",
    "mcp_url_has_credentials",
    "mcp_url_not_http",
    "mcp_url_too_long",
    "mcp_usage",
    "mcp_with_output",
    "secret_key_cannot_open",
    "secret_key_malformed",
    "secret_key_missing_to_open",
    "secret_key_needed",
    "upload_shadows_mcp",
]

SECRET_KEY_HOW = ("make one with `bot secret-key` and set BOT_SECRET_KEY to it on every "
                  "replica")


def secret_key_malformed() -> str:
    return ("BOT_SECRET_KEY is not a Fernet key (44 characters of URL-safe base64; several "
            f"may be given, comma-separated): {SECRET_KEY_HOW}")


def secret_key_needed() -> str:
    return f"Header values are stored encrypted, and BOT_SECRET_KEY is not set: {SECRET_KEY_HOW}."


def secret_key_missing_to_open() -> str:
    return ("its header values are stored encrypted and BOT_SECRET_KEY is not set here: set "
            "the key they were stored with")


def secret_key_cannot_open() -> str:
    return ("its header values were stored with another BOT_SECRET_KEY: put that key back "
            "(after the current one, comma-separated) or run `mcp add` again with the headers")


def mcp_usage() -> str:
    return ("Usage: /plugin mcp add NAME URL [header Name=value ...] (from a terminal: "
            "bot plugin mcp add NAME URL --header 'Name: value'), or /plugin mcp accept NAME "
            "to offer the tools a server lists now, once reviewed.")


def mcp_added(name: str, url: str, *, updated: bool, server: str | None,
              tools: Sequence[str], error: str | None, enabled: bool) -> str:
    verb = "Updated" if updated else "Added"
    text = f"{verb} MCP server {name} at {url}"
    if error is not None:
        text += f", but could not reach it: {error}. It is saved;"
    else:
        listed = ", ".join(tools) if tools else "no tools"
        text += f" ({server}; {len(tools)} tool{'s' if len(tools) != 1 else ''}: {listed})."
    if enabled:
        return text + (" The agent uses the new address from its next step." if error is None
                       else " calls fail until it answers.")
    return text + f" `/plugin enable {name}` offers its tools to the agent."


def mcp_name_taken(name: str, source: str) -> str:
    return (f"'{name}' is already a {source} plugin: give the MCP server another name "
            "(`/plugin list` shows the names in use)")


def upload_shadows_mcp(name: str) -> str:
    return (f"'{name}' is an MCP server's plugin: an upload needs another name "
            f"(or `/plugin remove {name}` first)")


def mcp_no_rollback(name: str) -> str:
    return (f"{name} is an MCP server: its tools are whatever the server offers now; "
            "there is no earlier version to go back to")


def mcp_configured_not_removable(name: str) -> str:
    return (f"{name} is configured by the operator in MCP_SERVERS: it goes away when it is "
            f"taken out of that setting; `/plugin disable {name}` stops offering it now")


def mcp_not_configured(name: str) -> str:
    return (f"MCP_SERVERS on this machine does not configure '{name}': add it there on "
            "every replica, or remove the plugin")


def mcp_row_missing() -> str:
    return "the database has no server address for this MCP plugin: run `mcp add` again"


def mcp_not_set_up() -> str:
    return "this process was started without MCP support"


def mcp_url_not_http(url: str) -> str:
    return (f"'{url[:200]}' is not an http(s) URL: give the server's streamable HTTP "
            "endpoint, e.g. https://mcp.example.com/mcp")


def mcp_url_too_long(limit: int) -> str:
    return f"the URL is longer than {limit} characters"


def mcp_address_refused(host: str, address: str, kind: str) -> str:
    shown = host if host == address else f"{host} ({address})"
    return (f"The MCP server's address {shown} is a {kind} address, which admins may not "
            "point the bot at; the operator can allow it with MCP_ALLOW_CIDRS. Nothing was "
            "saved.")


def mcp_answer_too_large(label: str, limit: int) -> str:
    return (f"The MCP server at {label} answered more than {limit // 2**20} MiB at once; the "
            "answer was refused unread (PLUGIN_MAX_RESPONSE_MB).")


def mcp_list_timeout(label: str, seconds: float) -> str:
    return f"The MCP server at {label} did not list its tools within {seconds:g} s."


def mcp_review_needed(name: str, summary: str) -> str:
    return (f":mag: The MCP server of {name} now offers other tools than an admin reviewed "
            f"({summary}). The bot keeps offering the reviewed ones until an admin accepts: "
            f"/plugin mcp accept {name} (see /plugin info {name}).")


def mcp_review_accepted(name: str, tools: Sequence[str]) -> str:
    return (f"Accepted the tools the MCP server of {name} offers now: "
            f"{', '.join(tools) or 'none'}.")


def mcp_nothing_to_review(name: str) -> str:
    return f"The MCP server of {name} offers what an admin reviewed: nothing to accept."


def mcp_url_has_credentials() -> str:
    return ("the URL carries a credential (a user name or password, or a token in its query "
            "string); give it as a header instead (`header Authorization …`), which is "
            "stored encrypted")


def mcp_header_unparsable(text: str) -> str:
    shown = text.split("=", 1)[0].split(":", 1)[0][:64]
    return f"'{shown}…' is not a header: write Name=value (Slack) or 'Name: value' (terminal)"


def mcp_header_name_bad(name: str) -> str:
    return f"'{name[:64]}' is not a valid HTTP header name"


def mcp_header_reserved(name: str) -> str:
    return f"the {name} header is the MCP client's own and cannot be set"


def mcp_header_value_bad(name: str) -> str:
    return (f"the value of header {name} is empty, too long or holds control characters "
            "(it is not shown)")


def mcp_description(server: str) -> str:
    return f"Tools of the MCP server {server}"


def mcp_too_many_tools(count: int, limit: int) -> str:
    return f"the server lists {count:,} tools, over the limit of {limit} (PLUGIN_MAX_TOOLS)"


def mcp_tool_skipped(tool: str, why: str) -> str:
    return f"tool '{tool[:80]}' is not offered: {why}"


def mcp_tools_dropped(tools: Sequence[str], other: str) -> str:
    return (f"tools {', '.join(tools)} are not offered: plugin {other} already has tools "
            "of those names")


def mcp_error_without_text() -> str:
    return "the server reported an error and said nothing more"


def mcp_binary_content(kind: str, mime: str | None, uri: str | None) -> str:
    where = f" {uri}" if uri else ""
    return f"[{kind}{where} ({mime or 'unknown type'}), not shown]"


def mcp_resource_link(uri: str, name: str | None) -> str:
    return f"[resource {name or ''} {uri}]".replace("  ", " ")


def mcp_connect_timeout(label: str, seconds: float) -> str:
    return (f"the MCP server {label} did not finish connecting within {seconds:g} s "
            "(MCP_CONNECT_TIMEOUT)")


def mcp_unreachable(label: str, why: str) -> str:
    return f"the MCP server {label} could not be reached: {why}"


def mcp_away(reason: str, seconds: float) -> str:
    return f"{reason}; it is tried again in {max(1, round(seconds))} s"


def mcp_connection_lost(label: str, why: str) -> str:
    return (f"the connection to the MCP server {label} broke: {why}; the next call "
            "connects again")


def mcp_call_refused(why: str) -> str:
    return f"the MCP server refused the call: {why}"


def mcp_host_closed() -> str:
    return "this MCP plugin was switched off while the call waited"


def mcp_endless_pages(pages: int) -> str:
    return f"the server's tools/list went on for more than {pages} pages"


def mcp_http_status(status: int) -> str:
    hints = {401: "the server wants to be logged in to; check the headers given to `mcp add`",
             403: "the server refused the headers given to `mcp add`; check them",
             404: "nothing answers MCP at this URL: check its path (often /mcp)"}
    return f"HTTP {status}" + (f" ({hints[status]})" if status in hints else "")


def mcp_with_output(why: str, output: str) -> str:
    return f"{why} (its stderr ended: {output})"


def mcp_local_out_of_memory(name: str, memory_mb: int, output: str) -> str:
    return (f"the server ran out of memory under its {memory_mb} MB limit: raise "
            f"MCP_SERVERS[{name!r}].memory_mb (it said: {output})")


def mcp_local_killed(name: str, signal: str, memory_mb: int) -> str:
    if signal == "SIGXCPU":
        return ("the server used up its CPU time (PLUGIN_WORKER_CPU_SECONDS) and was stopped; "
                "the next call starts it again")
    return (f"the server was killed by {signal}; under its {memory_mb} MB memory limit that is "
            f"most often memory running out: raise MCP_SERVERS[{name!r}].memory_mb")


def mcp_local_not_found(name: str, program: str, output: str) -> str:
    fix = ("list the directory holding it" if program.startswith("/") else
           f"give its absolute path in MCP_SERVERS[{name!r}].command and list its directory")
    return (f"its program {program!r} was not found in the sandbox, which holds only the "
            f"system's directories and the entry's 'paths': {fix} under "
            f"MCP_SERVERS[{name!r}].paths (it said: {output})")


def mcp_local_taken(name: str, source: str) -> str:
    return (f"MCP_SERVERS entry {name!r} is ignored: a {source} plugin has that name; "
            "rename the entry")


def mcp_local_bad(name: str, problem: str) -> str:
    return f"MCP_SERVERS entry {name!r}: {problem}"
