"""ChatOps bot for SRE teams: an LLM agent whose tools come from hot-loadable plugins."""

from bot.hardening import make_non_dumpable

# First thing any entry point does (`bot`, `python -m bot`, an import of the package): from
# here on /proc/<pid>/environ and mem are closed to processes of our own uid, before any
# setting or secret is read.
make_non_dumpable()

__version__ = "0.1.0"
