"""`/plugin …`, one API for every surface: `PluginCommands` has a typed method per command
(App Home's buttons and `bot plugin …`'s argparse call them), and `plugin_text` reads the
text Slack's slash command and the console send into the same calls."""

from bot.commands.api import Actor, CommandResult, PluginCommands
from bot.commands.plugin_text import HELP, loggable, parse_headers, run_text, slack_url

__all__ = ["HELP", "Actor", "CommandResult", "PluginCommands", "loggable", "parse_headers",
           "run_text", "slack_url"]
