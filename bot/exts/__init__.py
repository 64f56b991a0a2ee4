"""One cog per feature, each with a single setup()."""
