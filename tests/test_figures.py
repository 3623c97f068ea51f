"""Results as pictures: the 2017 contest's nominated projects by stakeholder type (41.7 /
22.4 / 16.1 / 13.5 / 6.3 %), and the projects submitted per country and per category, as SVG
charts with their tables, in the console; on the public results page only once the WSIS
Prize Ceremony has announced the winners, with their descriptions and the Champions'."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from devstack.catcher import MailCatcher
from models.tables import Campaign, Project
from services import staff
from tests.conftest import Portal
from tests.portal_flow import CATEGORIES, add_window
from tests.staff_flow import staff_sign_in

PID = "wsis-2017-prizes"
# The Civil Society Space report: 2017's nominated projects by stakeholder type.
NOMINATED_2017 = {
    "Government": 145,
    "Private Sector": 78,
    "Civil Society": 56,
    "Other": 47,
    "International Organization": 22,
}
TABLE_2017 = [
    ("Government", "145", "41.7"),
    ("Private Sector", "78", "22.4"),
    ("Civil Society", "56", "16.1"),
    ("Other", "47", "13.5"),
    ("International Organization", "22", "6.3"),
]


def contest_2017(engine: Engine, owner_id: int) -> None:
    """348 nominated projects as in 2017 (C1 and C2, Switzerland and Kenya), three more not
    nominated; a winner and a Champion in C1, with descriptions."""
    now = datetime.now(UTC)
    add_window(engine, PID, "voting", {"categories": list(CATEGORIES)},
               now - timedelta(days=30), now - timedelta(days=20))  # fmt: skip
    rows = [
        dict(process_id=PID, category="C1" if i % 4 else "C2", title=f"{kind} {i}",
             title_key=f"{kind} {i}".lower(), description=f"About {kind} {i}.",
             organization="Org", owner_id=owner_id, stakeholder_type=kind,
             country="CH" if i % 2 else "KE", submitted_at=now, status="nominated")
        for kind, n in NOMINATED_2017.items() for i in range(n)
    ] + [
        dict(process_id=PID, category="C3", title=f"Late {i}", title_key=f"late {i}",
             description="x", organization="Org", owner_id=owner_id, stakeholder_type="Academia",
             country="CL", submitted_at=now, status="ineligible")
        for i in range(3)
    ]  # fmt: skip
    table = Project.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(sa.insert(table), rows)
        conn.execute(
            sa.update(table)
            .where(table.c.title.in_(["Government 1", "Government 3"]))
            .values(shortlisted=True)
        )
        conn.execute(sa.update(table).where(table.c.title == "Government 1").values(winner=True))


def table_rows(page: str, table_id: str) -> list[tuple[str, ...]]:
    """The body rows of the page's table ``table_id``, cells stripped of their markup."""
    table = page.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    cells = re.compile(r"<t[dh][^>]*>(.*?)</t[dh]>")
    return [
        tuple(re.sub(r"<[^>]+>", "", cell).strip() for cell in cells.findall(row))
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


async def test_the_2017_figures_in_the_console_and_after_the_ceremony(
    portal: Portal, engine: Engine, mail: MailCatcher, participants: list[dict[str, str]]
) -> None:
    contest_2017(engine, owner_id=1)
    staff.add(engine, "expert@itu.int", "expert", actor="cli:test")
    async with (
        httpx.AsyncClient(base_url=portal.url) as expert,
        httpx.AsyncClient(base_url=portal.url) as visitor,
    ):
        await staff_sign_in(expert, mail, engine, "expert@itu.int")
        page = (await expert.get(f"/staff/figures?contest={PID}")).text
        assert table_rows(page, "stakeholder-types") == TABLE_2017
        assert table_rows(page, "countries") == [("KE", "175", "49.9"), ("CH", "173", "49.3"),
                                                 ("CL", "3", "0.9")]  # fmt: skip
        assert table_rows(page, "categories")[-1] == ("C3", "3", "0.9")
        assert 'aria-describedby="stakeholder-types"' in page
        picture = await expert.get(f"/staff/figures/stakeholder-types.svg?contest={PID}")
        assert picture.headers["content-type"] == "image/svg+xml"
        assert "<script" not in picture.text
        for label, count, percent in TABLE_2017:
            assert f">{count} ({percent} %)<" in picture.text and label in picture.text

        # Before the ceremony the public page shows neither a winner nor a chart.
        before = await visitor.get(f"/results/{PID}")
        assert "Until then no result is published" in before.text
        assert "About Government 1." not in before.text and "stakeholder-types" not in before.text
        assert (await visitor.get(f"/results/{PID}/countries.svg")).status_code == 404
        with engine.begin() as conn:
            conn.execute(sa.insert(Campaign).values(
                key=f"{PID}:winners", process_id=PID, kind="prize_winners", request_json="{}",
                created_at=datetime.now(UTC), completed_at=datetime.now(UTC)))  # fmt: skip
        after = (await visitor.get(f"/results/{PID}")).text
        assert "WSIS Prizes 2030" in after  # the contest it is about (its window's title)
        winner, champions = after.split("Winner", 1)[1].split("Champions", 1)
        assert "Government 1" in winner and "About Government 1." in winner
        assert "Government 3" in champions and "About Government 3." in champions
        assert table_rows(after, "stakeholder-types") == TABLE_2017
        assert ("Kenya", "175", "49.9") in table_rows(after, "countries")
        chart = await visitor.get(f"/results/{PID}/stakeholder-types.svg")
        assert chart.status_code == 200 and ">145 (41.7 %)<" in chart.text
        french = await visitor.get(
            f"/results/{PID}/stakeholder-types.svg", headers={"accept-language": "fr"}
        )
        assert ">Gouvernement<" in french.text and ">Government<" not in french.text
        assert (await visitor.get(f"/results/{PID}/no-such.svg")).status_code == 404
