"""Handoff to people: the live-chat queue, cases, staff messages waiting for delivery.

Everything is stored in SQL through SQLAlchemy 2.0 (SQLite by default, PostgreSQL by
URL) and committed before the bot replies, so a restart loses nothing.

    from bot.handoff.db import Database
    from bot.handoff.store import HandoffStore
    store = HandoffStore(Database.from_settings())
"""
