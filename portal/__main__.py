"""``python -m portal``: the portal alone, at ``WSIS_PORTAL_HOST``:``WSIS_PORTAL_PORT``.

Its public address (``WSIS_PORTAL_URL``) is where every link in every e-mail points. Behind a
reverse proxy, ``--proxy-headers`` takes the client's address from ``X-Forwarded-For`` for
the proxies ``WSIS_PORTAL_TRUSTED_PROXIES`` names (uvicorn's ``forwarded_allow_ips``).
"""

from __future__ import annotations

import argparse
import sys

import uvicorn

from core.log import configure_logging, get_logger
from core.settings import get_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=1, help="processes (stateless: any number)")
    args = parser.parse_args()
    configure_logging()
    # Database work runs in threads that hold the GIL for short steps between queries; with
    # the default 5 ms switch interval each step waits behind the event loop's rendering, and
    # a ballot's dozen queries take tens of milliseconds. 1 ms keeps them moving.
    sys.setswitchinterval(0.001)
    settings = get_settings()
    get_logger("portal").info(
        "portal.starting", listen=f"{settings.portal_host}:{settings.portal_port}",
        public=settings.portal_url,
    )  # fmt: skip
    uvicorn.run(
        "portal.app:create_app",
        factory=True,
        host=settings.portal_host,
        port=settings.portal_port,
        workers=args.workers,
        proxy_headers=True,
        forwarded_allow_ips=settings.portal_trusted_proxies,
        access_log=False,  # paths carry tokens (sign-in links, unsubscribe): never logged
        # A stop waits this long for the requests and receipts under way; what is not sent
        # by then stays in the outbox for the process's next flush.
        timeout_graceful_shutdown=20,
        log_config=None,
    )


if __name__ == "__main__":
    main()
