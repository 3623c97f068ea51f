"""``python -m portal``: the portal alone, at ``WSIS_PORTAL_HOST``:``WSIS_PORTAL_PORT``.

Its public address (``WSIS_PORTAL_URL``) is where every link in every e-mail points. It
refuses to start with settings unsafe for a public portal (``portal.startup``) unless that
address is local. Exposed to the internet it sits behind a reverse proxy with header
timeouts (uvicorn has none for reading headers); the client's address is taken from
``X-Forwarded-For`` only when it comes from the proxies ``WSIS_PORTAL_TRUSTED_PROXIES``
names (empty, the default: from nobody).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import uvicorn

from core.log import configure_logging, get_logger
from core.settings import Settings, get_settings
from portal.startup import trusted_proxies, unsafe

# Open connections one process serves at most (then 503), and the largest incomplete
# request head it buffers: a few thousand slow clients must not exhaust file descriptors.
CONCURRENCY = 1000
MAX_HEAD_BYTES = 32 * 1024


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn serves the portal for ``settings``."""
    proxies = trusted_proxies(settings)
    return {
        "host": settings.portal_host,
        "port": settings.portal_port,
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies or None,
        "limit_concurrency": CONCURRENCY,
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
        "timeout_keep_alive": 5,
        "server_header": False,
        "access_log": False,  # paths carry tokens (sign-in links, unsubscribe): never logged
        # A stop waits this long for the requests and receipts under way; what is not sent
        # by then stays in the outbox for the process's next flush.
        "timeout_graceful_shutdown": 20,
        "log_config": None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=1, help="processes (stateless: any number)")
    args = parser.parse_args()
    settings = get_settings()
    problems = unsafe(settings)
    if problems:
        print(f"portal: refusing to start: {'; '.join(problems)}", file=sys.stderr)
        raise SystemExit(2)
    configure_logging()
    # Database work runs in threads that hold the GIL for short steps between queries; with
    # the default 5 ms switch interval each step waits behind the event loop's rendering, and
    # a ballot's dozen queries take tens of milliseconds. 1 ms keeps them moving.
    sys.setswitchinterval(0.001)
    options = uvicorn_options(settings)
    get_logger("portal").info(
        "portal.starting", listen=f"{settings.portal_host}:{settings.portal_port}",
        public=settings.portal_url, trusted_proxies=options["forwarded_allow_ips"] or "none",
    )  # fmt: skip
    uvicorn.run("portal.app:create_app", factory=True, workers=args.workers, **options)


if __name__ == "__main__":
    main()
