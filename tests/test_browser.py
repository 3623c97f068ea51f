"""The operator's view: the Temporal Web UI, in headless Chromium, lists a cycle by its phase.

The real Temporal CLI dev server (with its UI) runs a compressed 2024 OCP: one calendar hour per
real second, so that phase I ("opening") lasts about ten minutes of real time. A second OCP
whose calendar has not begun yet ("not-started") must not show under the same filter. The UI's
workflow list, filtered by ``WsisPhase="opening"``, is loaded in the system Chromium (driven by
Playwright, no browser download); the CLI's ``temporal workflow list --query`` gives the same
answer. A screenshot is kept in ``var/screenshots/`` (git-ignored).

Chromium comes from ``scripts/ensure-chromium`` (apt-get as root when missing). Where it cannot
be had the test is skipped, except under CI (``CI=true``), where it fails: CI must run it.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.async_api import Page, async_playwright, expect
from sqlalchemy.engine import Engine
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from devstack.temporal import binary
from models.cycle import CycleConfig
from models.cycle_file import load_cycle
from models.moves import rebased
from models.phases import NOT_STARTED
from models.wire import OcpInput, ProcessStatus
from tests.conftest import CHROMIUM_ARGS, SCREENSHOTS
from tests.helpers import assert_eventually
from worker import build_worker
from workflows.ocp import OcpWorkflow
from workflows.search_attributes import WSIS_PHASE

pytestmark = [pytest.mark.browser, pytest.mark.devserver]

ROOT = Path(__file__).resolve().parent.parent

# One calendar hour per real second: 2024's phase I (15 Sep to 11 Oct 2023, 25 days 19 hours)
# lasts 619 s, far longer than this test, so the cycle is known to be in "opening" throughout.
SPEEDUP = 3600.0
OPENING = "opening"

# The UI keeps its table columns per namespace in localStorage; showing the WsisPhase column is
# what an operator does with "Configure columns", and it puts each row's phase on screen.
COLUMNS = [
    {"label": "Status", "pinned": True},
    {"label": "Workflow ID", "pinned": True},
    {"label": "WsisPhase", "pinned": False},
    {"label": "WsisYear", "pinned": False},
    {"label": "Type", "pinned": False},
    {"label": "Start", "pinned": False},
]
SEED_COLUMNS = (
    "if (!localStorage.getItem('namespace-workflow-table-columns')) {"
    " localStorage.setItem('namespace-workflow-table-columns', "
    f"JSON.stringify({json.dumps({'default': COLUMNS})})); }}"
)


async def eventually(check: Callable[[], Awaitable[bool]], what: str, within: float = 20) -> None:
    """Poll ``check`` until it holds (the dev server's visibility store lags a little)."""

    async def holds() -> None:
        assert await check(), f"timed out after {within:.0f} s waiting for {what}"

    await assert_eventually(holds, within=within)


async def phase_of(handle: WorkflowHandle[OcpWorkflow, ProcessStatus]) -> str | None:
    return (await handle.describe()).typed_search_attributes.get(WSIS_PHASE)


async def cli_list(client: Client, query: str) -> set[str]:
    """Workflow ids from ``temporal workflow list --query``: the operator's one-line answer."""
    proc = await asyncio.create_subprocess_exec(
        binary("temporal"),
        "workflow",
        "list",
        "--address",
        client.service_client.config.target_host,
        "--namespace",
        client.namespace,
        "--query",
        query,
        "--output",
        "jsonl",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return {
        json.loads(line)["execution"]["workflowId"]
        for line in out.decode().splitlines()
        if line.strip()
    }


async def start_ocp(
    client: Client, settings: Settings, cycle: CycleConfig
) -> WorkflowHandle[OcpWorkflow, ProcessStatus]:
    return await client.start_workflow(
        OcpWorkflow.run,
        OcpInput(
            cycle_id=cycle.cycle_id, year=cycle.year, title=cycle.display_title, ocp=cycle.ocp
        ),
        id=cycle.ocp_id,
        task_queue=settings.task_queue,
    )


async def phase_cells(page: Page, workflow_id: str) -> list[str]:
    """The WsisPhase cell of each row of the list that names ``workflow_id``."""
    cells: list[str] = await page.evaluate(
        """([column, id]) => {
            const table = [...document.querySelectorAll('table')]
                .find(t => [...t.querySelectorAll('th')].some(h => h.innerText.trim() === column));
            if (!table) return [];
            const index = [...table.querySelectorAll('thead tr th')]
                .findIndex(h => h.innerText.trim() === column);
            return [...table.querySelectorAll('tbody tr')]
                .filter(r => r.innerText.includes(id))
                .map(r => r.children[index]?.innerText.trim() ?? '');
        }""",
        [WSIS_PHASE.name, workflow_id],
    )
    return cells


async def show_list(page: Page, ui_port: int, namespace: str, query: str) -> None:
    """Open the UI's workflow list filtered by ``query`` (the page's own ``?query=``)."""
    url = f"http://127.0.0.1:{ui_port}/namespaces/{namespace}/workflows?query={quote(query)}"
    await page.goto(url, wait_until="networkidle")
    # The UI read the query into its filter bar, as it shows it: WsisPhase = "opening".
    name, value = query.split("=", 1)
    chip = page.get_by_role("button", name=re.compile(rf"^\s*{name}\s*=\s*{re.escape(value)}"))
    await expect(chip).to_be_visible()


async def test_ui_lists_the_cycle_by_phase(
    chromium: str,  # first: without a browser, skip before starting anything
    dev_env: WorkflowEnvironment,
    settings: Settings,
    engine: Engine,
) -> None:
    client = dev_env.client
    ui_port: int = dev_env.ui_port  # type: ignore[attr-defined]
    tag = uuid.uuid4().hex[:6]
    source = load_cycle(ROOT / "cycles" / "2024.toml")
    starts = source.ocp.phase_starts()
    assert (starts["II"] - starts["I"]) / SPEEDUP > timedelta(minutes=5)

    now = datetime.now(UTC).replace(microsecond=0)
    # The cycle under test: phase I begins two seconds from now.
    running = rebased(source, now + timedelta(seconds=2), speedup=SPEEDUP)
    running = running.model_copy(update={"id": f"ui-{tag}-now"})
    # Another cycle, on the same calendar but a day later: still before phase I.
    waiting = rebased(source, now + timedelta(days=1), speedup=SPEEDUP)
    waiting = waiting.model_copy(update={"id": f"ui-{tag}-later"})
    in_opening = f'{WSIS_PHASE.name}="{OPENING}"'
    not_started = f'{WSIS_PHASE.name}="{NOT_STARTED}"'

    async with build_worker(client, settings, engine):
        open_handle = await start_ocp(client, settings, running)
        later_handle = await start_ocp(client, settings, waiting)
        try:
            await eventually(
                lambda: _is(phase_of(open_handle), OPENING), f"{running.ocp_id} to enter {OPENING}"
            )
            await eventually(
                lambda: _is(phase_of(later_handle), NOT_STARTED),
                f"{waiting.ocp_id} to report {NOT_STARTED}",
            )

            # The CLI: one query answers "which processes are in the opening phase?".
            async def cli_shows_it() -> bool:
                return running.ocp_id in await cli_list(client, in_opening)

            await eventually(cli_shows_it, f"{running.ocp_id} in `temporal workflow list`")
            listed = await cli_list(client, f"{WSIS_PHASE.name}='{OPENING}'")
            assert running.ocp_id in listed and waiting.ocp_id not in listed
            listed = await cli_list(client, not_started)
            assert waiting.ocp_id in listed and running.ocp_id not in listed

            # The Web UI, filtered the same way, in headless Chromium.
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shot = SCREENSHOTS / "ui-wsisphase.png"
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                try:
                    context = await browser.new_context(viewport={"width": 1440, "height": 900})
                    await context.add_init_script(SEED_COLUMNS)
                    page = await context.new_page()

                    # The other filter first, so that an absence below means something.
                    await show_list(page, ui_port, client.namespace, not_started)
                    await expect(
                        page.get_by_role("row").filter(has_text=waiting.ocp_id)
                    ).to_have_count(1, timeout=15_000)
                    assert await phase_cells(page, waiting.ocp_id) == [NOT_STARTED]

                    await show_list(page, ui_port, client.namespace, in_opening)
                    row = page.get_by_role("row").filter(has_text=running.ocp_id)
                    try:
                        await expect(row).to_have_count(1, timeout=15_000)
                        await expect(row).to_be_visible()
                        await expect(row).to_contain_text(OPENING)
                        assert await phase_cells(page, running.ocp_id) == [OPENING]
                        await expect(page.get_by_text(waiting.ocp_id)).to_have_count(0)
                    finally:
                        await page.screenshot(path=str(shot), full_page=True)
                finally:
                    await browser.close()
            assert shot.stat().st_size > 0
        finally:
            for handle in (open_handle, later_handle):
                await handle.terminate("browser test done")


async def _is(value: Awaitable[str | None], expected: str) -> bool:
    return await value == expected
