"""The staff portal: service-desk staff log in, see the live queue and cases, read the
transcript, claim, reply and close. Sanic app from `bot.staff.app.create_app(settings)`;
run with `python -m bot.staff` (localhost:8000 by default)."""
