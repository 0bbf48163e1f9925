"""Asset builders: one module per kind of config item (source, transform, target)."""
