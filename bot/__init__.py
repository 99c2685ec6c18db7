"""Kommunebot: the core of a chatbot for Norwegian municipalities.

Plain Python that Rasa's custom actions, the staff portal and the CLI call. Importing
this package (or `bot.language`, `bot.channels`, `bot.rasa_nlu`) must never import
torch: the Rasa server process imports parts of it.
"""
