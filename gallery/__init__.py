"""The community gallery web app (FastAPI + Jinja2, read-only, no torch)."""
