"""project: title keys folded by Unicode identity (NFKC, case, width, invisible characters)

Earlier winners are recognised by their title key, so the keys stored before the new
folding are computed again: "Café" typed NFD in 2016 must match "Café" typed NFC in 2017.
The folding is copied here as it was when this migration was written (models.text.title_key),
so that the migration does the same thing whatever later releases change.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""
import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x9b[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"
    r"|\x1b[ -/]*[0-~]"
)
_BREAKS = "\t\n\r\v\f\x1c\x1d\x1e\x1f\x85\u2028\u2029"
_TABLE = {c: None for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)]}
_TABLE.update({ord(c): " " for c in _BREAKS})
_TABLE.update({ord(c): None for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"})


def _title_key(title: str) -> str:
    text = _ESCAPES.sub("", unicodedata.normalize("NFC", title))
    text = unicodedata.normalize("NFKC", " ".join(text.translate(_TABLE).split()))
    text = unicodedata.normalize("NFKC", text.casefold())
    return " ".join("".join(ch for ch in text if unicodedata.category(ch) != "Cf").split())


def upgrade() -> None:
    project = sa.table('project', sa.column('id', sa.Integer), sa.column('title', sa.String),
                       sa.column('title_key', sa.String))
    conn = op.get_bind()
    changed = [
        {'pid': pid, 'key': _title_key(title)}
        for pid, title, key in conn.execute(
            sa.select(project.c.id, project.c.title, project.c.title_key))
        if _title_key(title) != key
    ]
    if changed:
        conn.execute(
            project.update().where(project.c.id == sa.bindparam('pid'))
            .values(title_key=sa.bindparam('key')),
            changed,
        )


def downgrade() -> None:
    # The old keys were case- and space-folded titles; the new ones only fold more, and
    # nothing depends on the difference: leave them.
    pass
