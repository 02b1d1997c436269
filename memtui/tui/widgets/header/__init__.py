"""The run's header: what runs, and how far it is."""
