"""The translation catalogs: extract the marked strings, update each language, check them.

    python -m devstack.catalogs update     # after changing a template: new strings appear
                                           # (empty) in every language's .po, gone ones go
    python -m devstack.catalogs check      # every string translated, none fuzzy (CI runs it)
    python -m devstack.catalogs check mail vocab    # only these domains (update too)

``make i18n`` runs ``update``. Then translate the new entries in ``locales/<lang>/LC_MESSAGES/
<domain>.po`` (formal register, as a UN secretariat writes) and remove their ``fuzzy`` flags
once reviewed: a fuzzy entry is never used. See ``core/i18n.py`` for how they are loaded.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from core.i18n import (
    JINJA_OPTIONS,
    LANGUAGES,
    LOCALES,
    PY_KEYWORDS,
    SOURCE,
    VOCAB_KEYWORDS,
    catalog_path,
    translated,
)
from core.settings import PROJECT_ROOT

# The same extraction options as core.i18n.marked, which reads a source's strings at run time.
_JINJA = JINJA_OPTIONS
_PY_KEYWORDS = PY_KEYWORDS

# For each catalog: (files, extraction method, options, keywords).
SOURCES: dict[str, list[tuple[str, str, dict[str, str], dict[str, Any]]]] = {
    "mail": [
        ("mail/templates/**.j2", "jinja2", _JINJA, _PY_KEYWORDS),
        ("mail/**.py", "python", {}, _PY_KEYWORDS),
    ],
    "portal": [
        ("portal/templates/**.html", "jinja2", _JINJA, _PY_KEYWORDS),
        ("portal/**.py", "python", {}, _PY_KEYWORDS),
    ],
    # The vocabulary both use, marked N_("...") where it is defined.
    "vocab": [("models/**.py", "python", {}, VOCAB_KEYWORDS)],
    # The secretariat's console (portal/staff/, portal/templates/staff/): its own catalog.
    "staff": [
        ("portal/templates/staff/**.html", "jinja2", _JINJA, _PY_KEYWORDS),
        ("portal/staff/**.py", "python", {}, _PY_KEYWORDS),
    ],
}
# What a domain's patterns match but belongs to another domain.
EXCLUDED: dict[str, tuple[str, ...]] = {"portal": ("portal/templates/staff/", "portal/staff/")}
TRANSLATED = tuple(lang for lang in LANGUAGES if lang != SOURCE)


def extract(domain: str) -> Catalog:
    """Every string marked for ``domain``, with where it is used (file and line)."""
    template = Catalog(domain=domain, project="wsis-engine", charset="utf-8")
    for pattern, method, options, keywords in SOURCES[domain]:
        found: Iterator[Any] = extract_from_dir(
            PROJECT_ROOT,
            method_map=[(pattern, method)],
            options_map={pattern: options},
            keywords=keywords,
            comment_tags=("Translators:",),
            strip_comment_tags=True,
        )
        for filename, lineno, message, comments, context in found:
            path = Path(filename).as_posix()
            if path.startswith(EXCLUDED.get(domain, ())):
                continue
            template.add(message, None, [(path, lineno)], auto_comments=comments, context=context)
    return template


def _read(path: Path, lang: str, domain: str) -> Catalog:
    if not path.exists():
        return Catalog(
            locale=lang,
            domain=domain,
            project="wsis-engine",
            copyright_holder="International Telecommunication Union",
            charset="utf-8",
        )
    with path.open("rb") as fh:
        return read_po(fh, locale=lang, domain=domain)


def update(domains: tuple[str, ...] = tuple(SOURCES)) -> None:
    """Write each domain's template (``locales/<domain>.pot``) and bring every language's
    catalog up to date with it. A file whose entries did not change is left as it is (not
    even its creation date moves), so an update touches only the catalogs it concerns."""
    for domain in domains:
        template = extract(domain)
        LOCALES.mkdir(exist_ok=True)
        _write(LOCALES / f"{domain}.pot", template, ignore_obsolete=False)
        for lang in TRANSLATED:
            path = catalog_path(lang, domain)
            found = _read(path, lang, domain)
            found.update(template, update_header_comment=False)
            # A fuzzy header is left out of the compiled catalog, and its Plural-Forms with
            # it: Russian and Arabic would silently get English plurals.
            found.fuzzy = False
            path.parent.mkdir(parents=True, exist_ok=True)
            _write(path, found, ignore_obsolete=True)
            print(f"{path.relative_to(PROJECT_ROOT)}: {_summary(found)}")


_DATED = re.compile(rb'^"(POT-Creation-Date|PO-Revision-Date): .*\\n"\n', re.MULTILINE)


def _write(path: Path, found: Catalog, *, ignore_obsolete: bool) -> None:
    out = BytesIO()
    write_po(out, found, width=100, ignore_obsolete=ignore_obsolete, sort_by_file=True)
    data = out.getvalue()
    if path.exists() and _DATED.sub(b"", path.read_bytes()) == _DATED.sub(b"", data):
        return
    path.write_bytes(data)


def _summary(found: Catalog) -> str:
    messages = [m for m in found if m.id]
    todo = [m for m in messages if not translated(m)]
    return f"{len(messages)} strings, {len(todo)} to translate or review"


def problems(domains: tuple[str, ...] = tuple(SOURCES)) -> list[str]:
    """Every string of the sources that a language lacks, has fuzzy, or translates with
    placeholders that do not match: one line each (empty: the catalogs are complete)."""
    lines: list[str] = []
    for domain in domains:
        template = extract(domain)
        for lang in TRANSLATED:
            path = catalog_path(lang, domain)
            found = _read(path, lang, domain)
            where = path.relative_to(PROJECT_ROOT)
            for message in template:
                if not message.id:
                    continue
                have = found.get(message.id, message.context)
                if have is None or not translated(have):
                    state = "missing" if have is None else ("fuzzy" if have.fuzzy else "empty")
                    lines.append(f"{where}: {state}: {_short(message.id)}")
            for message, errors in found.check():
                lines += [f"{where}: {_short(message.id)}: {error}" for error in errors]
    return lines


def _short(message_id: object) -> str:
    text = message_id[0] if isinstance(message_id, tuple | list) else str(message_id)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["update", "check"])
    parser.add_argument("domains", nargs="*", help=f"only these of {', '.join(SOURCES)}")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.domains) - set(SOURCES))
    if unknown:
        parser.error(f"unknown domain(s): {', '.join(unknown)} (one of: {', '.join(SOURCES)})")
    domains = tuple(args.domains) or tuple(SOURCES)
    if args.command == "update":
        update(domains)
        return 0
    found = problems(domains)
    for line in found:
        print(line)
    print(f"{len(found)} problem(s)" if found else "every catalog is complete")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
