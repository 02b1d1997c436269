"""Every loss (and every run) on one chart."""
