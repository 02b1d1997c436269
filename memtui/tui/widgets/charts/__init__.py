"""Charts over epochs: ticks, the shared way of looking at them, the plotext adapter."""
