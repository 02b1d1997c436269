"""memtui: watch a network memorise corrupted labels, one loss function per pane."""

__version__ = "0.1.0"
