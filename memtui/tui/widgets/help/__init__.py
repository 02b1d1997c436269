"""The help: keys and metrics."""
