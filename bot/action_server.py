"""The action server, authenticated: rasa_sdk's server that answers only the Rasa server.

rasa_sdk's own server (`python -m rasa_sdk`) runs any action for anybody who can reach
it: a forged tracker could read another conversation's staff replies through
`action_relay_staff_message` (and mark them delivered) or create cases. This entry point
serves the same app (same options as `python -m rasa_sdk`) and

- refuses every call but `GET /health` without `Authorization: Bearer <token>`, the
  token being KOMMUNEBOT_ACTION_TOKEN (else <var>/action-token, bot.privacy.keys); Rasa
  sends it from endpoints.yml (`action_endpoint.headers`);
- listens on 127.0.0.1 unless SANIC_HOST says otherwise (rasa_sdk's default is 0.0.0.0);
- allows no cross-origin browser calls unless --cors names origins;
- never echoes a failed call's body (the tracker, with the citizen's messages) in a 500.

    python -m bot.action_server --actions actions --port 5055     # what `kommunebot run` starts
"""

from __future__ import annotations

import hmac
import logging
import os
import sys
from functools import partial

from rasa_sdk import utils
from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME
from rasa_sdk.endpoint import create_app_for_serve, create_argument_parser, create_ssl_config
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic, response
from sanic.request import Request
from sanic.worker.loader import AppLoader

from bot.privacy.keys import ACTION_TOKEN_SETTING, action_token

logger = logging.getLogger(__name__)

PUBLIC_PATHS = ("/health",)
DEFAULT_HOST = "127.0.0.1"
MAX_BODY_BYTES = 32 * 1024 * 1024  # the tracker and the domain of one long conversation fit easily


def authorised(request: Request, token: str) -> bool:
    sent = request.headers.get("authorization", "")
    return sent.startswith("Bearer ") and hmac.compare_digest(sent[len("Bearer "):].strip().encode(), token.encode())


def create_app(executor: ActionExecutor, token: str, cors_origins: object = None, auto_reload: bool = False,
               endpoints: str = "endpoints.yml") -> Sanic:
    """rasa_sdk's app with the token check (module level: Sanic's worker loader pickles it)."""
    if not token:
        raise RuntimeError(f"no action server token: set {ACTION_TOKEN_SETTING}")
    app = create_app_for_serve(executor, cors_origins=cors_origins, auto_reload=auto_reload, endpoints=endpoints)
    app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES

    @app.on_request
    async def require_token(request: Request):
        if request.path in PUBLIC_PATHS or authorised(request, token):
            return None
        logger.warning("action server: refused %s %s without the right token (%s)", request.method, request.path,
                       ACTION_TOKEN_SETTING)
        return response.json({"error": f"missing or wrong action server token ({ACTION_TOKEN_SETTING})"},
                             status=401)

    @app.on_response
    async def no_tracker_in_errors(request: Request, resp):
        # rasa_sdk answers an exception with the request body (the tracker) in a 500.
        if resp is not None and resp.status >= 500:
            return response.json({"error": "the action failed; see the action server's log"}, status=resp.status)
        return None

    return app


def main(argv: list[str] | None = None) -> int:
    parser = create_argument_parser()
    parser.prog = "python -m bot.action_server"
    parser.set_defaults(cors=None)
    args = parser.parse_args(argv)
    logging.getLogger("matplotlib").setLevel(logging.WARN)
    utils.configure_colored_logging(args.loglevel)
    utils.configure_file_logging(logging.getLogger(APPLICATION_ROOT_LOGGER_NAME), args.log_file, args.loglevel,
                                 args.logging_config_file)
    utils.update_sanic_log_level()
    try:
        token = action_token()
    except (OSError, RuntimeError) as error:
        print(f"action server: {error}", file=sys.stderr)
        return 2
    executor = ActionExecutor()
    executor.register_package(args.actions_module or args.actions)
    loader = AppLoader(factory=partial(create_app, executor, token, args.cors, args.auto_reload, args.endpoints))
    app = loader.load()
    host = os.environ.get("SANIC_HOST", DEFAULT_HOST)
    ssl = create_ssl_config(args.ssl_certificate, args.ssl_keyfile, args.ssl_password)
    logger.info("Action server (token required) on %s://%s:%s", "https" if ssl else "http", host, args.port)
    app.prepare(host=host, port=args.port, ssl=ssl, workers=utils.number_of_sanic_workers())
    Sanic.serve(primary=app, app_loader=loader)
    return 0


if __name__ == "__main__":
    sys.exit(main())
