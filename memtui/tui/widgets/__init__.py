"""The widgets of the live view, one concept per folder. Each draws from memtui.runstate and
nothing else, so a live run and a replayed run directory look the same."""
