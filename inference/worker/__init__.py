"""The GPU side: only worker processes (and the CLI's imagine/upscale/vary) import this."""
