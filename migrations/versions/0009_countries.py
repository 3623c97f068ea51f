"""countries as ISO 3166 codes: each country name (in any of the seven languages, or a code in
any case) in participant, ocpsubmission and project becomes its code; a value that names no
country is kept as it was, and listed (the log here; later: python -m reports.countries)

Revision ID: 0009_countries
Revises: 0009_privacy
Create Date: 2026-12-03
"""
import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core import countries

revision: str = '0009_countries'
down_revision: str | None = '0009_privacy'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")
TABLES = ("participant", "ocpsubmission", "project")


def upgrade() -> None:
    conn = op.get_bind()
    for name in TABLES:
        table = sa.table(name, sa.column("country", sa.String))
        values = [v for (v,) in conn.execute(sa.select(table.c.country).distinct()) if v]
        for value in values:
            code = countries.code_for(value)
            if code is None:
                log.warning("country kept as it is (no ISO 3166 country): %s %r", name, value)
            elif code != value:
                conn.execute(table.update().where(table.c.country == value).values(country=code))


def downgrade() -> None:
    # Codes stay codes: the names they replaced were many spellings of one country.
    pass
