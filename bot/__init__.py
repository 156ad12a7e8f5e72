"""ChatOps bot for SRE teams: an LLM agent whose tools come from hot-loadable plugins."""

__version__ = "0.1.0"
