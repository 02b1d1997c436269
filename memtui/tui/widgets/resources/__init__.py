"""The machine beside the metrics: GPUs, host, torch memory (`r`)."""
