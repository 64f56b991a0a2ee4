"""The /imagine prompt language: pure text → typed requests (no discord, no torch)."""
