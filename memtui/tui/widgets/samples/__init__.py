"""The samples screen's panels: when, what, data map, scoreboard, gallery (one per file), drawn
from a run's sample ledger; cells.py draws in terminal cells without Textual."""
