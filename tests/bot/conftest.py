"""The bot's tests. Being here puts tests/bot on sys.path, so tests import `bot_fakes`."""
