"""SQLAlchemy 2 async models, session factories and repositories (no discord, no torch)."""
