"""A plugin's life: the manager's transitions under one lock (`manager`, `row_changes`), a
row made running code (`opener`), start-up and reload (`startup`, `discovery`), versions,
where each plugin is loaded (`load_state`), lock-free state (`plugin_store`) and the views
surfaces show (`info`)."""
