# The engine's image: the worker by default, and the one-shot `migrate` service of
# docker-compose.yml (`python starter.py db upgrade`). Settings come from the environment
# (core/settings.py): WSIS_TEMPORAL_ADDRESS, DATABASE_URL, WSIS_SMTP_HOST, WSIS_SMTP_PORT, ...
#
#   docker build -t wsis-engine .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The project with the `postgres` extra (psycopg), from the build context (.dockerignore keeps
# .venv, var, .git and caches out of it).
COPY . .
RUN pip install ".[postgres]"

# An unprivileged user; var/ is where the default SQLite file would go.
RUN useradd --create-home --uid 10001 wsis \
    && mkdir -p /app/var \
    && chown wsis:wsis /app/var
USER wsis

CMD ["python", "worker.py"]
