"""Settings that are unsafe for a public portal: it refuses to start with them unless its
address (``WSIS_PORTAL_URL``) is local, where a developer runs it.

* an address that is not https: cookies without ``Secure``, tokens in clear on the wire, and
  a one-click unsubscribe URI that RFC 8058 wants on https;
* no secret shared by every process, a short one, or the public one in docker-compose.yml:
  the keyed hashes in the database (codes, sessions, addresses in rate counters) could be
  recomputed by anyone with a copy of it;
* no ``WSIS_PORTAL_TRUSTED_PROXIES``: a public portal sits behind a proxy with header
  timeouts, and without the setting every visitor would count as the proxy's network. Say
  ``none`` to serve without one.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from core.settings import Settings

MIN_SECRET_BYTES = 32
PUBLIC_SECRETS = frozenset({"local-stack-only-set-a-long-random-secret"})
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def is_local(url: str) -> bool:
    """Whether ``url`` names this machine only."""
    host = urlsplit(url).hostname or ""
    return host in LOCAL_HOSTS or host.endswith(".localhost")


def unsafe(settings: Settings) -> list[str]:
    """What makes ``settings`` unsafe for a public portal (nothing for a local one)."""
    if is_local(settings.portal_url):
        return []
    problems = []
    if urlsplit(settings.portal_url).scheme != "https":
        problems.append("WSIS_PORTAL_URL must be an https address")
    secret = settings.portal_secret.get_secret_value() if settings.portal_secret else ""
    if len(secret.encode("utf-8")) < MIN_SECRET_BYTES or secret in PUBLIC_SECRETS:
        problems.append(
            f"WSIS_PORTAL_SECRET must be a private random secret of {MIN_SECRET_BYTES}+ bytes"
        )
    if not settings.portal_trusted_proxies.strip():
        problems.append("WSIS_PORTAL_TRUSTED_PROXIES must name the proxy in front (or say none)")
    return problems


def trusted_proxies(settings: Settings) -> str:
    """The proxies whose ``X-Forwarded-For`` is believed, as uvicorn takes them ('' for none)."""
    value = settings.portal_trusted_proxies.strip()
    return "" if value.lower() == "none" else value
