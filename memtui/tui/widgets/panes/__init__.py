"""A loss's pane: its values table and its two charts."""
