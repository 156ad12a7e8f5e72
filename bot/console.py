"""`bot console`: the bot's handlers driven from a terminal, no Slack needed.

    @bot why is checkout-api crashlooping?   (or any plain line) — ask the agent
    /plugin list                             — the admin commands Slack's /plugin runs
    upload ./myplugin.zip                    — the upload pipeline
    channel C0123ABCD | dm | console         — ask as if in that channel (its plugins)
    help, exit, Ctrl-D
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import pwd
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot import messages, text_render
from bot.agent.approvals import Decision
from bot.agent.events import AnswerDelta, Event, Queued, Thinking, ToolFinished, ToolStarted
from bot.agent.llm import LLM
from bot.agent.runs import Runs
from bot.app import Services
from bot.commands import Actor, PluginCommands, loggable, run_text
from bot.errors import BotError
from bot.plugin_host import DM, Caller, Installer, Registry, parse_channel
from bot.store.audit import AuditLog
from bot.terminal import os_user, terminal_safe

HELP = messages.CONSOLE_HELP

log = logging.getLogger(__name__)
CONSOLE = "console"  # the console's own scope: plugins enabled everywhere


@dataclass(frozen=True)
class ConsoleServices:
    """What the console uses: the commands, the agent's runs, uploads, the audit trail
    (approvals), and what its banner says (the tools, the model, where state lives)."""

    commands: PluginCommands
    runs: Runs
    installer: Installer
    audit: AuditLog
    registry: Registry
    llm: LLM | None
    locations: str

    @classmethod
    def of(cls, services: Services) -> ConsoleServices:
        return cls(services.commands, services.runs, services.installer, services.audit,
                   services.registry, services.llm,
                   messages.locations(services.db.label, services.settings.plugins_dir))


class Console:
    def __init__(self, services: ConsoleServices, *, out: TextIO = sys.stdout,
                 interactive: bool | None = None, channel: str = CONSOLE) -> None:
        self.services = services
        self.out = out
        self.interactive = sys.stdin.isatty() if interactive is None else interactive
        self.user = os_user()
        self.actor = f"console:{self.user}"
        self.channel = channel  # where questions are asked from: scopes.scope_of
        self._current: str | None = None
        self._streamed = ""  # the answer's text printed so far as it streamed

    async def run(self) -> int:
        self._print(self._banner())
        history = self._setup_readline()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, self._interrupt)
        try:
            while True:
                try:
                    line = await asyncio.to_thread(input, "bot> " if self.interactive else "")
                except EOFError:
                    self._print("\n" + messages.console_bye())
                    return 0
                if not await self._handle_safely(line.strip()):
                    return 0
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)
            if history is not None:
                with contextlib.suppress(OSError):
                    import readline
                    readline.write_history_file(history)

    async def _handle_safely(self, line: str) -> bool:
        """Whatever goes wrong with one line is one line on the terminal, then the prompt."""
        try:
            return await self.handle(line)
        except Exception as exc:
            log.exception("console line %r failed", loggable(line)[:200])
            self._print(messages.console_line_failed(exc))
            return True

    async def handle(self, line: str) -> bool:
        """Handle one line; False means leave."""
        if not line:
            return True
        if line in ("exit", "quit"):
            self._print(messages.console_bye())
            return False
        if line == "help":
            self._print(HELP)
        elif line.startswith("/plugin"):
            result = await run_text(self.services.commands, line.removeprefix("/plugin"),
                                    by=Actor(self.actor, admin=True))
            self._print(result.text)
        elif line.split()[0] == "channel" and len(line.split()) <= 2:
            self._switch_channel(line.removeprefix("channel").strip())
        elif line.startswith("upload"):
            await self._upload(line.removeprefix("upload").strip())
        elif line.startswith("/"):
            self._print(messages.console_unknown_command(line.split()[0]))
        else:
            await self._ask(line.removeprefix("@bot").strip())
        return True

    async def _ask(self, question: str) -> None:
        if not question:
            self._print(messages.console_ask_empty())
            return
        if self.services.llm is None:
            self._print(messages.llm_not_configured())
            return
        handle = self.services.runs.start(question, caller=Caller(user=self.actor,
                                                                  channel=self.channel),
                                          observer=self._progress, approver=self._approve)
        self._current = handle.run_id
        self._streamed = ""
        try:
            result = await handle.result()
        finally:
            self._current = None
        if result.ok and self._streamed and result.text.startswith(self._streamed.strip()):
            self._print(result.text[len(self._streamed.strip()):].lstrip("\n"))
        else:
            self._end_stream()
            self._print(result.text if result.ok else f"! {result.text}")

    def _switch_channel(self, word: str) -> None:
        try:
            self.channel = console_channel(word)
        except BotError as exc:
            self._print(str(exc))
            return
        self._print(messages.console_channel(self.channel))

    async def _upload(self, path_text: str) -> None:
        if not path_text:
            self._print(messages.console_upload_usage())
            return
        result = await self.services.installer.install(Path(path_text), actor=self.actor)
        self._print(text_render.install_result(result))

    async def _progress(self, event: Event) -> None:
        if isinstance(event, AnswerDelta):  # the answer as it is written
            self.out.write(terminal_safe(event.text))
            self.out.flush()
            self._streamed += event.text
            return
        if isinstance(event, Queued | Thinking | ToolStarted):
            self._end_stream()
        if isinstance(event, Queued):
            self._print(f"… waiting for a free slot (position {event.position})")
        elif isinstance(event, Thinking):
            self._print(f"… thinking (step {event.step})")
        elif isinstance(event, ToolStarted):
            args = event.arguments if isinstance(event.arguments, str) else json.dumps(
                event.arguments, ensure_ascii=False)
            self._print(f"→ {event.tool} {args}")
        elif isinstance(event, ToolFinished):
            mark = "✓" if event.ok else "✗"
            detail = "" if event.ok else f": {event.summary}"
            self._print(f"{mark} {event.tool} ({event.duration_ms:.0f} ms){detail}")

    async def _approve(self, *, tool: str, arguments: str, digest: str, caller: Caller,
                       run_id: str) -> Decision:
        """The console's operator is the admin: ask them, with the whole arguments."""
        self._print(f"? {tool} needs approval to run with {arguments} (fingerprint "
                    f"{digest[:12]}). Approve? [y/N]")
        try:
            answer = await asyncio.to_thread(input, "")
        except EOFError:
            answer = ""
        approved = answer.strip().lower() in ("y", "yes")
        text = (messages.approval_approved(tool, self.actor) if approved
                else messages.approval_denied(tool, self.actor))
        await self.services.audit.decision(self.actor, tool, approved=approved,
                                           detail=f"run {run_id}: {text}")
        return Decision(approved, self.actor, text)

    def _interrupt(self) -> None:
        if self._current is not None:
            self.services.runs.cancel(self._current)
        else:
            self._print("\n" + messages.console_leave_hint())

    def _banner(self) -> str:
        snapshot = self.services.registry.snapshot
        plugins = len({tool.plugin for tool in snapshot.tools.values()})
        llm = self.services.llm
        model = (f"model {llm.model} at {llm.base_url}" if llm else
                 "no model configured (admin commands work; questions need OPENAI_API_KEY "
                 "or OPENAI_BASE_URL)")
        return (f"ChatOps bot console — {_count(len(snapshot), 'tool')} from "
                f"{_count(plugins, 'enabled plugin')}; {model}.\n"
                f"{self.services.locations}.\n{messages.console_prompt()}")

    def _setup_readline(self) -> Path | None:
        if not self.interactive:
            return None
        try:
            import readline
        except ImportError:
            return None
        history = Path(pwd.getpwuid(os.getuid()).pw_dir) / ".chatops_bot_history"
        with contextlib.suppress(OSError):
            readline.read_history_file(history)
        readline.set_history_length(1000)
        return history

    def _end_stream(self) -> None:
        """Text streamed before a tool step is not the answer: end its line, forget it."""
        if self._streamed:
            if not self._streamed.endswith("\n"):
                self.out.write("\n")
            self._streamed = ""

    def _print(self, text: str) -> None:
        print(terminal_safe(text), file=self.out, flush=True)


def console_channel(word: str) -> str:
    """`C0123ABCD`, `<#C0123ABCD|x>`, `dm` or `console` as the channel questions come from
    (a DM is any D… ID: the scope is the same). BotError says what is wrong."""
    if word.lower() in ("", CONSOLE):
        return CONSOLE
    scope = parse_channel(word)
    return "D-CONSOLE" if scope == DM else scope


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
