"""Run the staff portal: python -m bot.staff [--host 127.0.0.1] [--port 8000]."""

from __future__ import annotations

import argparse
import logging
import sys
from urllib.parse import urlsplit

from bot.config import settings
from bot.handoff.db import DatabaseUnavailable


def main(argv: list[str] | None = None) -> int:
    current = settings()
    default = urlsplit(current.staff_url)
    parser = argparse.ArgumentParser(prog="python -m bot.staff", description="Run the staff portal.")
    parser.add_argument("--host", default=default.hostname or "127.0.0.1")
    parser.add_argument("--port", type=int, default=default.port or 8000)
    parser.add_argument("--secure-cookies", action="store_true",
                        help="always mark cookies Secure (behind a TLS proxy that talks plain HTTP to the portal)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from bot.staff.app import create_app

    try:
        from bot.insight.portal import extension as insight

        app = create_app(current, secure_cookies=True if args.secure_cookies else None, extensions=[insight()])
    except DatabaseUnavailable as exc:
        print(f"staff portal: {exc}", file=sys.stderr)
        return 2
    app.run(host=args.host, port=args.port, single_process=True, access_log=False, motd=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
