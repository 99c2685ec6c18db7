"""Rasa custom actions: thin adapters between Rasa's tracker/dispatcher and `bot/`.

One module per concern: session (start values), knowledge (answers from the index),
service (opening hours, contact, desks, other authorities), feedback, handoff (the
handoff engineer's). Run with `python -m rasa_sdk --actions actions`.
"""
