"""The one place a Temporal client is made: address, namespace, TLS or an API key.

The worker, the CLI and the console call ``connect``; the settings say how to reach a real
cluster (``WSIS_TEMPORAL_TLS``, ``WSIS_TEMPORAL_TLS_CA_FILE``, ``..._CERT_FILE``,
``..._KEY_FILE``, ``WSIS_TEMPORAL_API_KEY``, ``WSIS_TEMPORAL_NAMESPACE``).
"""

from __future__ import annotations

from urllib.parse import quote

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import TLSConfig

from core.settings import Settings, get_settings


def tls_config(settings: Settings) -> TLSConfig | bool:
    """TLS as the settings ask: off, the system's CAs (``True``), or a CA and client pair."""
    files = (
        settings.temporal_tls_ca_file,
        settings.temporal_tls_cert_file,
        settings.temporal_tls_key_file,
    )
    if any(files):
        ca, cert, key = (path.read_bytes() if path else None for path in files)
        return TLSConfig(server_root_ca_cert=ca, client_cert=cert, client_private_key=key)
    # An API key is only ever sent encrypted.
    return settings.temporal_tls or settings.temporal_api_key is not None


async def connect(settings: Settings | None = None) -> Client:
    """A client with the pydantic data converter every part of the engine uses."""
    settings = settings or get_settings()
    key = settings.temporal_api_key
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        tls=tls_config(settings),
        api_key=key.get_secret_value() if key is not None else None,
    )


def web_ui_link(workflow_id: str, settings: Settings | None = None) -> str:
    """The workflow's page in the Temporal Web UI."""
    settings = settings or get_settings()
    namespace = quote(settings.temporal_namespace, safe="")
    return (
        f"{settings.temporal_ui_url.rstrip('/')}/namespaces/{namespace}/workflows/"
        f"{quote(workflow_id, safe='')}"
    )
