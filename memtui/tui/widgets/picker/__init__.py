"""The list of runs and sweeps `memtui watch` offers when it has several to choose from."""
