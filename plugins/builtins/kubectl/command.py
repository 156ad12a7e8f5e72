"""Parse a kubectl-style command line into a read-only request, or refuse it with a reason."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from datetime import datetime

from bot.kube import names as names

READ_VERBS = ("get", "describe", "logs", "events", "top", "rollout", "api-resources",
              "api-versions", "cluster-info", "auth", "version", "explain")
ALLOWED = ("get, describe, logs, events, top pods|nodes, rollout status|history, "
           "api-resources, api-versions, cluster-info, auth can-i|whoami, version, explain")
# What kubectl changes (or reaches into) a cluster with: refused as "read-only". Any other
# verb is a read this tool does not have, and is told so, not called a write.
CHANGING_VERBS = frozenset({
    "apply", "create", "delete", "edit", "patch", "replace", "scale", "autoscale", "label",
    "annotate", "set", "expose", "run", "exec", "attach", "cp", "port-forward", "proxy",
    "drain", "cordon", "uncordon", "taint", "rollout-restart", "debug", "certificate"})
# Shell syntax is refused to say "one command, no pipeline" (nothing runs a shell): the
# braces, brackets and parentheses of -o jsonpath= templates are not shell syntax here.
META = re.compile(r"[;&|`<>\n\r]|\$\(|\$\{")
OUTPUTS = ("wide", "yaml", "json", "name")
TEMPLATE_OUTPUTS = ("jsonpath=", "custom-columns=")
FLAG_VALUES = {"-n": "namespace", "--namespace": "namespace", "-l": "selector",
               "--selector": "selector", "--field-selector": "field_selector",
               "-o": "output", "--output": "output", "-c": "container",
               "--container": "container", "--tail": "tail", "--since": "since",
               "--limit-bytes": "limit_bytes", "--revision": "revision",
               "-L": "label_columns", "--label-columns": "label_columns",
               "--since-time": "since_time", "--for": "for_object", "--types": "types",
               "--sort-by": "sort_by", "--raw": "raw"}
WATCH_FLAGS = ("--watch", "-w")  # kubectl bool flags: --watch=false is the only answer
BOOL_FLAGS = {"-A": "all_namespaces", "--all-namespaces": "all_namespaces",
              "-p": "previous", "--previous": "previous", "--all-containers": "all_containers",
              "--show-labels": "show_labels", "--no-headers": "no_headers",
              "--timestamps": "timestamps", "--prefix": "prefix", "--list": "list_rules",
              "--recursive": "recursive", "--containers": "containers"}


class Refused(Exception):
    """The command is not something this read-only tool will run; the text says why."""


@dataclass
class Command:
    verb: str
    args: list[str] = field(default_factory=list)  # positional words after the verb
    namespace: str | None = None
    all_namespaces: bool = False
    selector: str | None = None
    field_selector: str | None = None
    output: str | None = None
    container: str | None = None
    tail: int | None = None  # -1: every line, as kubectl means it
    limit_bytes: int | None = None
    revision: int | None = None  # rollout history --revision
    since: int | None = None  # seconds
    previous: bool = False
    all_containers: bool = False
    containers: bool = False  # top pods: one row per container
    show_labels: bool = False
    timestamps: bool = False
    prefix: bool = False
    since_time: str | None = None
    for_object: str | None = None
    sort_by: str | None = None
    raw: str | None = None
    types: list[str] = field(default_factory=list)
    no_headers: bool = False
    label_columns: list[str] = field(default_factory=list)
    list_rules: bool = False  # auth can-i --list
    recursive: bool = False  # explain --recursive


def parse(line: str) -> Command:
    if META.search(line):
        raise Refused("Shell syntax (; | & ` $( < > and line breaks) is not allowed: "
                      "give one kubectl command.")
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise Refused(f"Could not parse the command: {exc}.") from None
    if words[:1] == ["kubectl"]:
        words = words[1:]
    if not words:
        raise Refused(f"Give a kubectl command, e.g. `get pods -n prod`. Allowed: {ALLOWED}.")
    verb, rest = words[0], words[1:]
    if verb not in READ_VERBS:
        raise Refused(f"`kubectl {verb}` is not allowed: this tool is read-only. Allowed: "
                      f"{ALLOWED}." if verb in CHANGING_VERBS else
                      f"`kubectl {verb}` is not available in this tool. It runs: {ALLOWED}.")
    command = Command(verb=verb)
    _apply_flags(command, rest)
    _check(command)
    try:
        _check_names(command)
    except names.InvalidInput as exc:
        raise Refused(str(exc)) from None
    return command


def _apply_flags(command: Command, words: list[str]) -> None:
    """kubectl's (pflag's) flag forms: `--flag value`, `--flag=value`, a short flag's
    value attached (`-owide`, `-nprod`, `-lapp=web`) or after `=` (`-n=prod`), and a bool
    flag's explicit value (`--all-namespaces=true`, `-A=false`)."""
    i = 0
    while i < len(words):
        word = _attached(words[i])
        name, eq, inline = word.partition("=")
        if eq and name in BOOL_FLAGS:
            setattr(command, BOOL_FLAGS[name], _boolean(name, inline))
            i += 1
            continue
        if name in WATCH_FLAGS:
            _set(command, "watch", inline if eq else "true")
        elif word.startswith("-") and name in FLAG_VALUES:
            if eq:
                value = inline
            elif i + 1 < len(words):
                i += 1
                value = words[i]
            else:
                raise Refused(f"{name} needs a value.")
            _set(command, FLAG_VALUES[name], value)
        elif word in BOOL_FLAGS:
            setattr(command, BOOL_FLAGS[word], True)
        elif word.startswith("-"):
            raise Refused(f"The flag {name} is not supported by this tool.")
        else:
            command.args.append(word)
        i += 1


def _attached(word: str) -> str:
    """`-owide` as `-o=wide`: a one-letter flag that takes a value, with the value stuck
    to it (as pflag reads it)."""
    if len(word) > 2 and word[0] == "-" and word[1] != "-" and word[2] != "=" and \
            word[:2] in FLAG_VALUES:
        return f"{word[:2]}={word[2:]}"
    return word


def _boolean(name: str, value: str) -> bool:
    if value.lower() in ("true", "1", "t"):
        return True
    if value.lower() in ("false", "0", "f"):
        return False
    raise Refused(f"{name} takes true or false, not {value!r}.")


def _set(command: Command, attribute: str, value: str) -> None:
    if attribute == "output" and value not in OUTPUTS and not value.startswith(
            TEMPLATE_OUTPUTS):
        raise Refused(f"-o {value} is not supported (use one of: {', '.join(OUTPUTS)}, "
                      "jsonpath=TEMPLATE, custom-columns=SPEC).")
    if attribute in ("tail", "limit_bytes", "revision"):
        if not value.lstrip("-").isdigit():
            flag = "--" + attribute.replace("_", "-")
            raise Refused(f"{flag} needs a number, not {value!r}.")
        number = int(value)
        if attribute == "tail" and number < -1:
            raise Refused("--tail must be greater than or equal to -1 (-1: every line).")
        if attribute == "limit_bytes" and number < 0:
            raise Refused("--limit-bytes must be greater than 0.")
        setattr(command, attribute, number or None if attribute == "limit_bytes" else number)
    elif attribute == "since":
        setattr(command, attribute, _seconds(value))
    elif attribute == "watch":  # the tool answers once: only "do not watch" is meaningful
        if value.lower() not in ("false", "0"):
            raise Refused("This tool answers once and cannot watch; drop --watch (or give "
                          "--watch=false).")
    elif attribute == "since_time":
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise Refused(f"--since-time needs an RFC3339 time such as "
                          f"2026-11-30T10:00:00Z, not {value!r}.") from None
        command.since_time = value
    elif attribute == "types":
        command.types += [kind for kind in value.split(",") if kind]
    elif attribute == "label_columns":  # -L a,b and -L a -L b
        command.label_columns += [key for key in value.split(",") if key]
    else:
        setattr(command, attribute, value)


def _seconds(value: str) -> int:
    match = re.fullmatch(r"(\d+)([smhd])", value)
    if not match:
        raise Refused(f"--since needs a duration such as 30s, 5m, 2h or 1d, not {value!r}.")
    return int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


def _check(command: Command) -> None:
    if command.verb == "rollout" and (not command.args
                                      or command.args[0] not in ("status", "history")):
        what = command.args[0] if command.args else ""
        raise Refused(f"`kubectl rollout {what}` is not allowed: only `rollout status` and "
                      "`rollout history` (read-only).".replace("rollout  ", "rollout "))
    if command.verb == "top" and (not command.args or command.args[0] not in
                                  ("pods", "pod", "po", "nodes", "node", "no")):
        raise Refused("Use `top pods` or `top nodes`.")
    if command.verb in ("get", "describe") and not command.args and command.raw is None:
        raise Refused(f"`kubectl {command.verb}` needs a resource type, e.g. "
                      f"`{command.verb} pods -n prod`.")
    if command.verb == "logs" and not command.args and command.selector is None:
        raise Refused("`kubectl logs` needs a pod name, e.g. `logs checkout-api-7d9f -n prod`.")


def _check_names(command: Command) -> None:
    """Every namespace, selector, container, type and name in the command by Kubernetes'
    own rules, before anything is asked of the cluster (the plugin's paths are built by
    bot.kube.names, which checks them again by each kind's rule)."""
    if command.namespace is not None:
        names.check_namespace(command.namespace)
    if command.selector is not None:
        names.check_label_selector(command.selector)
    if command.field_selector is not None:
        names.check_field_selector(command.field_selector)
    if command.container is not None:
        names.check_container(command.container)
    if command.for_object is not None:
        _check_target(command.for_object)
    args = command.args
    if command.verb in ("get", "describe") and args:
        if all("/" in a for a in args):
            for arg in args:
                _check_target(arg)
        else:
            for kind in args[0].split(","):
                if kind:
                    names.check_resource_word(kind)
            for name in args[1:]:
                names.check_loose_name(name)
    elif command.verb == "logs" and args:
        _check_target(args[0])
        for container in args[1:2]:  # `logs POD CONTAINER`, as kubectl takes it
            names.check_container(container)
    elif command.verb == "rollout" and len(args) > 1:
        if "/" in args[1]:
            for arg in args[1:]:
                _check_target(arg)
        else:  # `rollout status deployment web`
            names.check_resource_word(args[1])
            for name in args[2:]:
                names.check_loose_name(name)
    elif command.verb == "top":
        for name in args[1:]:
            names.check_loose_name(name)
    elif command.verb == "explain":
        for path in args:
            names.check_resource_word(path)
    elif command.verb == "auth" and len(args) >= 3 and args[0] == "can-i":
        if not re.fullmatch(r"[a-z*]{1,32}", args[1]):
            raise Refused(f"{args[1][:40]!r} is not a Kubernetes verb (get, list, watch, "
                          "create, delete, …).")
        _check_target(args[2], kind_only=True)


def _check_target(word: str, *, kind_only: bool = False) -> None:
    """`kind/name` (or a bare name, a pod's, where kubectl takes one)."""
    kind, slash, name = word.partition("/")
    if not slash:
        (names.check_resource_word if kind_only else names.check_loose_name)(kind)
        return
    names.check_resource_word(kind)
    names.check_loose_name(name)
