"""Who may use what, where: channel scopes and admins' settings (`scopes`, `settings`) and
per-tool approval rules (`approval_rules`)."""
