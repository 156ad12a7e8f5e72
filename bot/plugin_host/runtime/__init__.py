"""What runs a tool call: the registry's frozen snapshot of tools (`registry`), the set of
plugins running in this process (`active`), the in-process host of builtins
(`in_process`) and the health monitor that counts their faults (`health`)."""
