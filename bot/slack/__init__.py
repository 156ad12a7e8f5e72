"""The Slack surface: one module per surface, each with `register(app, ctx)`."""
