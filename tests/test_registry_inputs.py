"""Hostile and careless registry imports: every bad line named with its reason, every good
line kept, nothing written for a file refused whole; vouching, SMTPUTF8, Unicode identity."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from core.db import create_db_engine
from core.files import FileRefused
from intake.participants import import_participants
from models.tables import Participant

ROOT = Path(__file__).resolve().parent.parent
HEADER = "name,email,organization,country,stakeholder_type,language\n"
_p = Participant.__table__  # type: ignore[attr-defined]


def person(i: int) -> str:
    return f"Participant {i},p{i}@example.org,Ministry of ICT,Senegal,Government,fr\n"


def registry(engine: Engine) -> dict[str, sa.Row[tuple[object, ...]]]:
    with engine.connect() as conn:
        return {r.email: r for r in conn.execute(sa.select(_p)).all()}


def starter(*args: str, db_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "starter.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={"WSIS_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin", **env},
    )


def test_bad_lines_anywhere_fail_alone(tmp_path: Path, engine: Engine) -> None:
    lines = [person(i).encode() for i in range(3000)]
    lines[1200] = b"Caf\xe9 Owner,cafe@example.org,Org,Chile,Academia,es\n"  # file line 1202
    lines[1500] = f"Big,big@example.org,{'x' * 10_000_000},Chile,Academia,es\n".encode()
    lines[2000] = b"Short,short@example.org,Org\n"  # file line 2002: three fields
    lines[2500] = f"{'N' * 250},long@example.org,Org,Chile,Academia,es\n".encode()
    path = tmp_path / "people.csv"
    path.write_bytes(HEADER.encode() + b"".join(lines))
    report = import_participants(path, engine)
    why = dict(report.errors)
    assert sorted(why) == [1202, 1502, 2002, 2502]
    assert "not UTF-8 (byte 0xe9)" in why[1202]
    assert "organization: 10,000,000 characters, more than the 100,000" in why[1502]
    assert "3 fields where the header has 6" in why[2002]
    assert "name: at most 200 characters (this one has 250)" in why[2502]
    assert report.created == 2996 == len(registry(engine))
    assert "p2999@example.org" in registry(engine)


def test_text_is_cleaned_and_names_are_not_addresses(tmp_path: Path, engine: Engine) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        HEADER + 'Amina\x1b[2J \u202eDiallo\x00,amina@example.org,"Min\nistry",Senegal,,\n'
        "amina\uff20example.org,x@example.org,,,,\n",
        encoding="utf-8",
    )
    report = import_participants(path, engine)
    assert [line for line, _ in report.errors] == [4]  # the quoted line break is line 3
    assert "looks like an e-mail address" in report.errors[0][1]
    amina = registry(engine)["amina@example.org"]
    assert (amina.name, amina.organization) == ("Amina Diallo", "Min istry")


def test_the_same_person_in_nfd_or_capitals_is_one_row(tmp_path: Path, engine: Engine) -> None:
    path = tmp_path / "people.csv"
    nfc = "josé@example.org"
    path.write_text(f"{HEADER}José,{nfc},,,,\n", encoding="utf-8")
    import_participants(path, engine)
    nfd = unicodedata.normalize("NFD", "José@EXAMPLE.org")
    path.write_text(f"{HEADER}José Again,{nfd},,,,\n", encoding="utf-8")
    report = import_participants(path, engine)
    assert (report.created, report.updated) == (0, 1)
    assert list(registry(engine)) == [nfc]


def test_non_ascii_addresses_without_smtputf8(tmp_path: Path, engine: Engine) -> None:
    path = tmp_path / "people.csv"
    path.write_text(f"{HEADER}Jörg,jörg@bücher.de,,,,\nInfo,info@example.org,,,,\n", "utf-8")
    report = import_participants(path, engine, smtp_utf8=False)
    assert report.created == 1
    [(line, why)] = report.errors
    assert line == 2 and "not an ASCII address" in why and "SMTPUTF8" in why
    assert import_participants(path, engine, smtp_utf8=True).created == 1


def test_look_alike_addresses_are_refused_and_real_scripts_kept(
    tmp_path: Path, engine: Engine
) -> None:
    """A Cyrillic letter inside a Latin word (typed, or as punycode) is the shape of a
    spoof: refused on its line. Addresses written in one script, or in the scripts a
    language combines (Japanese kana and kanji), are kept."""
    spoofs = [
        "amina@ex\u0430mple.org",  # a Cyrillic a in the domain
        "p\u0430ypal@example.org",  # ... in the local part
        "user@xn--exmple-4nf.org",  # the first one, as punycode
        "jose@\u03bfrg.example.org",  # a Greek omicron
    ]
    real = ["иван@пример.рф", "ユーザー@例え.jp", "用户@例子.广告", "ahmed@مثال.إختبار",
            "nadia@mañana.com", "홍길동@example.com"]  # fmt: skip
    lines = [f"Person {i},{address},,,,\n" for i, address in enumerate(spoofs + real)]
    path = tmp_path / "people.csv"
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    report = import_participants(path, engine, smtp_utf8=True)
    assert [line for line, _ in report.errors] == [2, 3, 4, 5]
    assert all("mixes alphabets" in why for _, why in report.errors)
    assert sorted(registry(engine)) == sorted(real)


def test_verified_flag_and_column(tmp_path: Path, engine: Engine) -> None:
    path = tmp_path / "people.csv"
    path.write_text(f"{HEADER}{person(0)}{person(1)}", encoding="utf-8")
    assert import_participants(path, engine).verified == 0
    assert all(r.verified_at is None for r in registry(engine).values())
    assert import_participants(path, engine, verified=True).verified == 2
    vouched = {e: r.verified_at for e, r in registry(engine).items()}
    assert all(vouched.values())
    # Re-importing without the flag never withdraws it, nor moves its date.
    import_participants(path, engine)
    assert {e: r.verified_at for e, r in registry(engine).items()} == vouched

    path.write_text(
        "name,email,verified\nA,a@example.org,yes\nB,b@example.org,no\nC,c@example.org,maybe\n",
        encoding="utf-8",
    )
    report = import_participants(path, engine)
    assert report.verified == 1 and report.errors == [(4, "verified: 'maybe' is not yes or no")]
    people = registry(engine)
    assert people["a@example.org"].verified_at and people["b@example.org"].verified_at is None


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("naam,email\nA,a@example.org\n", "unknown column 'naam'"),
        ("email\na@example.org\n", "the header has no column name"),
        ("", "is empty"),
    ],
)
def test_a_wrong_header_writes_nothing(
    tmp_path: Path, engine: Engine, content: str, reason: str
) -> None:
    path = tmp_path / "people.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(FileRefused, match=reason):
        import_participants(path, engine)
    assert registry(engine) == {}


def test_cli_import_refuses_in_one_line_with_status_2(tmp_path: Path, db_url: str) -> None:
    bad_header = tmp_path / "header.csv"
    bad_header.write_text("naam,email\n")
    for target, reason in [
        (tmp_path / "missing.csv", "file not found"),
        (tmp_path, "is a directory"),
        (bad_header, "unknown column 'naam' in the header; the columns are: name, email"),
    ]:
        run = starter("participants", "import", str(target), db_url=db_url)
        assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
        assert run.stderr.count("\n") == 1 and reason in run.stderr, run.stderr

    mixed = tmp_path / "mixed.csv"
    mixed.write_bytes(f"{HEADER}{person(0)}".encode() + b"Caf\xe9,c@example.org,,,,\n")
    run = starter("participants", "import", str(mixed), "--verified", db_url=db_url)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "1 created, 0 updated, 1 verified, 1 refused" in run.stdout
    assert "line 3: name: not UTF-8 (byte 0xe9)" in run.stderr

    ascii_only = tmp_path / "intl.csv"
    ascii_only.write_text(f"{HEADER}Jörg,jörg@bücher.de,,,,\n", encoding="utf-8")
    run = starter("participants", "import", str(ascii_only), db_url=db_url, WSIS_SMTP_UTF8="false")
    assert run.returncode == 2 and "line 2: email:" in run.stderr and "SMTPUTF8" in run.stderr


# Property: any bytes after the header: rows or per-line refusals, never an exception.


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(
            [person(1), person(2), "X,x@example.org\n", '"', "\n", "é,é@é.org,,,,\n"]
        ).map(str.encode)
        | st.binary(max_size=60),
        max_size=20,
    )
)
def test_any_registry_lines_give_rows_or_refusals(
    migrated_database: Path, chunks: list[bytes]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{shutil.copy(migrated_database, Path(folder) / 'wsis.db')}"
        engine = create_db_engine(url)
        try:
            path = Path(folder) / "people.csv"
            path.write_bytes(HEADER.encode() + b"".join(chunks))
            report = import_participants(path, engine)
            assert len(registry(engine)) == report.created
            assert all(line >= 2 and why and "\n" not in why for line, why in report.errors)
        finally:
            engine.dispose()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200) | st.sampled_from([b"", b"email\n", b"naam,email\nA,a@b.org\n"]))
def test_a_file_refused_whole_writes_nothing(migrated_database: Path, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{shutil.copy(migrated_database, Path(folder) / 'wsis.db')}"
        engine = create_db_engine(url)
        try:
            path = Path(folder) / "people.csv"
            path.write_bytes(data + b"\n" + person(1).encode())
            try:
                report = import_participants(path, engine)
            except FileRefused as exc:
                assert "\n" not in str(exc)
                assert registry(engine) == {}
            else:
                assert len(registry(engine)) == report.created
        finally:
            engine.dispose()
