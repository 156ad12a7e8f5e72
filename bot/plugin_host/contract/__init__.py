"""The plugin contract: what a plugin module is (`protocol`), how a module becomes plain data
(`describe`, which builtins and the sandboxed worker share), and how that data is checked
(`validation`, `schemas`) and imported (`loader`)."""
