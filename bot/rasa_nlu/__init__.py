"""Custom Rasa NLU components (loaded by the Rasa server process: no torch here)."""
