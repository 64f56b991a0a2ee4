"""The Discord front end (discord.py, no torch)."""
