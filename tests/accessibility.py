"""axe-core in Chromium, one way for every browser test: WCAG 2.1 A and AA, and only the
serious or critical violations count (the axe-playwright-python wheel ships axe.min.js:
nothing is downloaded)."""

from __future__ import annotations

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Only the violations are collected: the passes' node lists made each run several times
# slower and are never read.
_OPTIONS = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}
_AXE = Axe()  # reads axe.min.js once, not for each page


async def serious_violations(page: Page) -> list[str]:
    """The page's serious or critical violations, each as its rule and first targets."""
    found = await _AXE.run(page, options=_OPTIONS)
    return [
        f"{v['id']} {[str(n['target']) for n in v['nodes']][:3]}"
        for v in found.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
