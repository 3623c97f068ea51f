"""``python -m mail.inbound``: the inbound SMTP service, at WSIS_INBOUND_HOST:PORT."""

from __future__ import annotations

import asyncio
import contextlib
import signal

from core.db import get_engine
from core.log import configure_logging, get_logger
from core.settings import get_settings
from mail.inbound.server import InboundServer

log = get_logger("mail.inbound")


async def serve() -> None:
    """Run until SIGINT or SIGTERM."""
    settings = get_settings()
    server = await InboundServer(settings, get_engine(settings.database_url)).start()
    log.info("inbound.listening", host=server.host, port=server.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()


def main() -> None:
    """The service's entry point."""
    configure_logging()
    asyncio.run(serve())


if __name__ == "__main__":
    main()
