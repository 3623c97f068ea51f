"""Benchmark: N participants sign in at once through the real portal and a real SMTP server.

    python bench/signin.py                 # 2,000 sign-ins, 32 at a time
    python bench/signin.py --quick         # 500
    python bench/signin.py --signins 5000 --concurrency 64

Everything is real and local: a SQLite file with N participants, the portal in its own
process (``python -m portal``, as deployed), and an SMTP sink in a third process
(``python -m devstack.catcher --sink --report ...``) that says which link reached whom. Each
sign-in is what a person does: open the sign-in page, ask for a link (the portal answers, then
e-mails the link), receive the message, open the link (a page with a button), press it (the
token is consumed, a session opens). The simulated browsers share a pool of connections, each
with its own cookies.

Baseline: the same sign-ins through the service layer alone, in this process (issue the
link with ``intake.accounts.request_sign_in``, consume it, open the session), with the same
concurrency in threads: no HTTP, no templates, no mail. It prints sign-ins/s and the p50/p99
latency of a whole sign-in for both, and ends with ``portal/direct ratio: X.XX``.
A benchmark, not a test: the figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere: the engine's modules first
    sys.path.insert(0, str(ROOT))

from bench.common import Browsers, PortalProcess, add_participants, address, free_port, percentiles  # noqa: E402
from core.db import create_db_engine, migrate  # noqa: E402
from intake.accounts import consume_link, open_session, request_sign_in  # noqa: E402

KEY = "bench-portal-key-0123456789abcdef0123456789abcdef"
CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


class Inbox:
    """The SMTP sink, in its own process, says which link reached whom: each line of its
    output (``<recipient> /signin/link/<token>``) is handed to the sign-in waiting for it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.waiting: dict[str, asyncio.Future[str]] = {}
        self.proc: asyncio.subprocess.Process | None = None
        self.reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "devstack.catcher", "--sink", "--port", str(self.port),
            "--report", r"/signin/link/[\w-]+",
            cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert self.proc.stdout is not None
        ready = await self.proc.stdout.readline()
        assert ready.startswith(b"ready"), ready
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            to, _, link = line.decode().strip().partition(" ")
            future = self.waiting.pop(to, None)
            if future is not None and not future.done():
                future.set_result(link)

    def expect(self, to: str) -> asyncio.Future[str]:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.waiting[to] = future
        return future

    async def stop(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        if self.proc is not None:
            self.proc.terminate()
            await self.proc.wait()


async def sign_in(browser: httpx.AsyncClient, who: str, inbox: Inbox) -> float:
    """One person's sign-in, from opening the page to the session; seconds it took."""
    started = time.perf_counter()
    page = await browser.get("/signin")
    csrf = CSRF.search(page.text)
    assert csrf, page.text[:200]
    arrival = inbox.expect(who)
    answer = await browser.post(  # a redirect to /signin/sent, followed as a browser does
        "/signin", data={"email": who, "csrf": csrf.group(1)}, follow_redirects=True
    )
    assert answer.status_code == 200 and answer.url.path == "/signin/sent", answer.status_code
    link = await asyncio.wait_for(arrival, 60)
    confirm = await browser.get(link)
    csrf = CSRF.search(confirm.text)
    assert csrf, confirm.text[:200]
    done = await browser.post(link, data={"csrf": csrf.group(1)})
    assert done.status_code == 303, done.status_code
    return time.perf_counter() - started


async def through_the_portal(
    browsers: Browsers, count: int, inbox: Inbox
) -> tuple[float, list[float]]:
    async def one(i: int) -> float:
        async with browsers.browser() as browser:
            return await sign_in(browser, address(i), inbox)

    started = time.perf_counter()
    latencies = await asyncio.gather(*(one(i) for i in range(count)))
    return time.perf_counter() - started, list(latencies)


def direct(db_url: str, count: int, concurrency: int, offset: int) -> tuple[float, list[float]]:
    engine = create_db_engine(db_url)
    key = KEY.encode()

    def one(i: int) -> float:
        started = time.perf_counter()
        issued = request_sign_in(engine, address(i), key)
        participant = consume_link(engine, issued.token, key)
        open_session(engine, participant, key)
        return time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(one, range(offset, offset + count)))
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed, latencies


def report(label: str, count: int, elapsed: float, latencies: list[float]) -> float:
    rate = count / elapsed
    p50, p99 = percentiles(latencies)
    print(
        f"  {label:<10} {count:>6} sign-ins in {elapsed:6.1f} s: {rate:7.1f}/s   "
        f"p50 {p50:6.1f} ms   p99 {p99:6.1f} ms"
    )
    return rate


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signins", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="500 sign-ins")
    args = parser.parse_args()
    count = 500 if args.quick else args.signins
    with tempfile.TemporaryDirectory(prefix="wsis-bench-signin-") as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'wsis.db'}"
        migrate(db_url)
        add_participants(db_url, 2 * count)
        inbox = Inbox(free_port())
        await inbox.start()
        env = {
            "WSIS_DATABASE_URL": db_url,
            "WSIS_SMTP_HOST": "127.0.0.1",
            "WSIS_SMTP_PORT": str(inbox.port),
            "WSIS_SMTP_TLS": "none",
            "WSIS_PORTAL_SECRET": KEY,
            # Every simulated person comes from this machine's network: no throttling here.
            "WSIS_SIGNIN_PER_CLIENT": str(10**9),
            "WSIS_SIGNIN_PER_ADDRESS": str(10**9),
        }
        portal = PortalProcess(env, free_port(), Path(tmp) / "portal.log")
        browsers = Browsers(portal.url, args.concurrency)
        try:
            print(f"{count} sign-ins, {args.concurrency} at a time; SQLite; 2 cores")
            async with browsers.browser() as warm:
                await sign_in(warm, address(2 * count - 1), inbox)  # warm up
            cpu, own = portal.cpu_seconds(), time.process_time()
            elapsed, latencies = await through_the_portal(browsers, count, inbox)
            cpu, own = portal.cpu_seconds() - cpu, time.process_time() - own
            rate = report("portal", count, elapsed, latencies)
            print(
                f"  {'':<10} CPU a sign-in: portal {cpu / count * 1000:.2f} ms, "
                f"the simulated browsers (this process) {own / count * 1000:.2f} ms"
            )
        finally:
            portal.stop()
            await inbox.stop()
            await browsers.aclose()
        base_elapsed, base_latencies = direct(db_url, count, args.concurrency, count)
        baseline = report("direct", count, base_elapsed, base_latencies)
        print(f"portal/direct ratio: {rate / baseline:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
