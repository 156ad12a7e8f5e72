"""The plugin system, and its only door for the rest of the bot.

Inside, one subpackage per concern — `contract` (what a plugin is and how it is checked),
`runtime` (the registry and what runs a call), `sandbox` (where uploaded code runs),
`uploads`, `mcp` (servers as plugins), `lifecycle` (the manager, start-up, versions) and
`policy` (channel scopes, settings, approval rules). Other packages import the names
`__init__.pyi` lists from `bot.plugin_host`, and nothing from the subpackages (an
import-linter contract holds that). Each name is loaded on first use, so importing one
costs only its module (lazy_loader reads the names from the stub).
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
