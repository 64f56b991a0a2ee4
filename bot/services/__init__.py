"""Plain async services behind the Discord cogs: intake, delivery, permissions, formatting.

Nothing here imports discord; the cogs translate Discord objects into these calls."""
