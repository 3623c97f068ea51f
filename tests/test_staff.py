"""Staff accounts and roles, the second factor, staff sessions and the append-only audit log."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError

from models.tables import Participant, StaffMember
from services import audit, sealed, staff
from services.errors import Refused

ROOT = Path(__file__).resolve().parent.parent
_p = Participant.__table__  # type: ignore[attr-defined]
_m = StaffMember.__table__  # type: ignore[attr-defined]


def starter(*args: str, db_url: str) -> subprocess.CompletedProcess[str]:
    run = subprocess.run(
        [sys.executable, "starter.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={"WSIS_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin", "USER": "ops"},
    )
    assert "Traceback" not in run.stderr, run.stderr
    return run


KEY = b"k" * 32  # the portal's secret key


def test_staff_add_list_remove_from_the_cli(db_url: str, engine: Engine) -> None:
    run = starter("staff", "add", "Jane@ITU.int", "--role", "secretariat", db_url=db_url)
    assert run.returncode == 0 and "is secretariat" in run.stdout, run.stderr
    run = starter("staff", "add", "x@itu.int", "--role", "boss", db_url=db_url)
    assert run.returncode == 2 and "'boss' is not one of secretariat, expert, expert-lead" in (
        run.stderr
    )
    listed = starter("staff", "list", db_url=db_url).stdout
    assert "secretariat" in listed and "jane@itu.int" in listed and "not yet enrolled" in listed
    # A staff identity takes no announcement; the log names the operator, not an address.
    with engine.connect() as conn:
        row = conn.execute(sa.select(_p).where(_p.c.email == "jane@itu.int")).one()
    assert row.unsubscribed and row.verified_at is not None
    assert starter("staff", "remove", "jane@itu.int", db_url=db_url).returncode == 0
    assert "jane" not in starter("staff", "list", db_url=db_url).stdout
    run = starter("staff", "remove", "jane@itu.int", db_url=db_url)
    assert run.returncode == 1 and "no staff account" in run.stderr
    log = audit.entries(engine)
    assert [(e.action, e.actor) for e in log] == [
        ("staff.remove", "cli:ops"),
        ("staff.add", "cli:ops"),
    ]
    assert not any("@" in f"{e.target}{e.detail}" for e in log)


def test_the_audit_log_is_append_only(engine: Engine) -> None:
    audit.record(engine, actor="staff:1", action="change.change_deadline", reason="why")
    for statement in ("UPDATE audit_log SET reason = 'other'", "DELETE FROM audit_log"):
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql(statement)
    assert [e.reason for e in audit.entries(engine)] == ["why"]
    with pytest.raises(ValueError, match="never by address"):
        audit.record(engine, actor="jane@itu.int", action="x")


def test_the_second_factor_is_one_use_per_code(engine: Engine) -> None:
    member = staff.add(engine, "jane@itu.int", "expert", actor="cli:ops")
    secret = staff.enrolment_secret(engine, member.id, KEY)
    assert staff.enrolment_secret(engine, member.id, KEY) == secret  # the same until confirmed
    assert "<svg" in staff.enrolment_qr(secret, "jane@itu.int")
    now = datetime.now(UTC)
    code = pyotp.TOTP(secret).at(now)
    wrong = "000000" if code != "000000" else "111111"
    assert not staff.check_code(engine, member.id, wrong, KEY)
    assert staff.check_code(engine, member.id, code, KEY, now=now)
    assert not staff.check_code(engine, member.id, code, KEY, now=now)  # replayed
    later = now + timedelta(seconds=60)
    assert staff.check_code(engine, member.id, pyotp.TOTP(secret).at(later), KEY, now=later)
    assert staff.find(engine, staff_id=member.id).enrolled  # type: ignore[union-attr]


def test_the_totp_secret_is_sealed_at_rest(engine: Engine) -> None:
    """The database holds no TOTP secret in clear, in any encoding; a code checks with the
    portal's key only; a sealed secret copied onto another staff row does not open there."""
    jane = staff.add(engine, "jane@itu.int", "expert", actor="cli:ops")
    omar = staff.add(engine, "omar@itu.int", "expert", actor="cli:ops")
    secret = staff.enrolment_secret(engine, jane.id, KEY)
    raw = base64.b32decode(secret)
    forms = {secret, secret.lower(), raw.hex(), base64.b64encode(raw).decode()}
    with engine.connect() as conn:
        tables = ("staff_member", "participant", "audit_log")
        rows = [row for t in tables for row in conn.exec_driver_sql(f"SELECT * FROM {t}")]
        cells = [str(v) for row in rows for v in row]
        kept = conn.execute(sa.select(_m.c.totp_sealed).where(_m.c.id == jane.id)).scalar_one()
    assert not [c for c in cells if any(form in c for form in forms)]
    assert kept.startswith("v1.") and sealed.unseal(KEY, jane.id, kept) == secret
    now = datetime.now(UTC)
    code = pyotp.TOTP(secret).at(now)
    assert not staff.check_code(engine, jane.id, code, b"another key" * 3, now=now)
    # Omar's row given Jane's sealed secret: it opens for no one there.
    staff.enrolment_secret(engine, omar.id, KEY)
    with engine.begin() as conn:
        conn.execute(_m.update().where(_m.c.id == omar.id).values(totp_sealed=kept))
    assert not staff.check_code(engine, omar.id, code, KEY, now=now)
    assert staff.check_code(engine, jane.id, code, KEY, now=now)


def test_a_second_factor_unreadable_after_a_key_change_is_reset_by_the_operator(
    db_url: str, engine: Engine
) -> None:
    """The portal's secret changed: an enrolled member's authenticator can be read no more,
    and no one holding their e-mailed link may enrol another. ``staff reset-second-factor``
    (the operator's) ends their sessions and lets them enrol anew under the new key."""
    jane = staff.add(engine, "jane@itu.int", "secretariat", actor="cli:ops")
    old = staff.enrolment_secret(engine, jane.id, KEY)
    now = datetime.now(UTC)
    assert staff.check_code(engine, jane.id, pyotp.TOTP(old).at(now), KEY, now=now)
    session = staff.open_session(engine, jane.id, KEY)
    new_key = b"n" * 32
    with pytest.raises(Refused, match="cannot be read"):
        staff.enrolment_secret(engine, jane.id, new_key)

    run = starter("staff", "reset-second-factor", "Jane@ITU.int", db_url=db_url)
    assert run.returncode == 0, run.stderr
    assert (
        run.stdout.strip()
        == f"staff:{jane.id}: second factor forgotten; they enrol a new one at /staff/"
    )
    assert staff.session_staff(engine, session, KEY) is None  # signed out everywhere
    assert not staff.find(engine, staff_id=jane.id).enrolled  # type: ignore[union-attr]
    fresh = staff.enrolment_secret(engine, jane.id, new_key)
    assert fresh != old
    later = now + timedelta(seconds=90)
    assert staff.check_code(engine, jane.id, pyotp.TOTP(fresh).at(later), new_key, now=later)
    newest = audit.entries(engine)[0]
    assert (newest.action, newest.actor, newest.target) == (
        "staff.reset_second_factor",
        "cli:ops",
        f"staff:{jane.id}",
    )
    missing = starter("staff", "reset-second-factor", "nobody@itu.int", db_url=db_url)
    assert missing.returncode == 1 and missing.stderr == "no staff account for that address\n"


def test_staff_sessions_end_idle_after_30_minutes_and_after_8_hours(engine: Engine) -> None:
    member = staff.add(engine, "jane@itu.int", "secretariat", actor="cli:ops")
    start = datetime.now(UTC)
    sid = staff.open_session(engine, member.id, KEY, now=start)
    seen = staff.session_staff(engine, sid, KEY, now=start + timedelta(minutes=1))
    assert seen is not None and not seen.complete
    staff.second_factor_given(engine, sid, KEY, now=start + timedelta(minutes=1))
    at = start
    while at < start + timedelta(hours=7, minutes=40):  # busy all day: touched every 20 min
        at += timedelta(minutes=20)
        signed = staff.session_staff(engine, sid, KEY, now=at)
        assert signed is not None and signed.complete
    assert staff.session_staff(engine, sid, KEY, now=start + timedelta(hours=8)) is None
    # The database keeps only a keyed hash of a session id: neither the id nor its SHA-256.
    with engine.connect() as conn:
        kept = set(conn.execute(sa.text("SELECT id_hash FROM staff_session")).scalars())
    assert sid not in kept and hashlib.sha256(sid.encode()).hexdigest() not in kept
    assert staff.session_staff(engine, sid, b"another key" * 3) is None
    idle = staff.open_session(engine, member.id, KEY, now=start)
    assert staff.session_staff(engine, idle, KEY, now=start + timedelta(minutes=29)) is not None
    assert staff.session_staff(engine, idle, KEY, now=start + timedelta(minutes=60)) is None
    # Removing the account ends its sessions at once.
    live = staff.open_session(engine, member.id, KEY)
    staff.remove(engine, "jane@itu.int", actor="cli:ops")
    assert staff.session_staff(engine, live, KEY) is None
    with pytest.raises(Refused):
        staff.remove(engine, "jane@itu.int", actor="cli:ops")
