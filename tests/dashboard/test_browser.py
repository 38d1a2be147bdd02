"""The dashboard in real headless Chromium (Playwright driving the Debian package)."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright import sync_api as playwright_api

from .conftest import Dashboard

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# CI installs Chromium (.ci/run), so there a missing browser fails the test instead of skipping it.
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"), reason="needs Debian's chromium"
)


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where page screenshots go: ``SFD_SCREENSHOTS`` or a pytest temp folder."""
    folder = os.environ.get("SFD_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


def test_compliance_officer_walkthrough(
    dashboard: Dashboard, browser: object, screenshots: Path
) -> None:
    context = browser.new_context(viewport={"width": 1360, "height": 900}, accept_downloads=True)
    page = context.new_page()
    expect = playwright_api.expect

    def shot(name: str) -> None:
        page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)

    page.goto(f"{dashboard.url}/dashboard/jobs/{dashboard.succeeded}")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shot("01-login")
    page.get_by_label("API key").fill(dashboard.officer_key)
    page.get_by_role("button", name="Sign in").click()

    expect(page.locator("#metrics-table")).to_be_visible()
    grid = page.locator("#samples-grid")
    expect(grid).to_be_visible()
    assert grid.evaluate("img => img.complete && img.naturalWidth > 0")
    expect(page.locator("svg.chart g.series").first).to_be_visible()
    expect(page.locator("#artifacts-table")).to_contain_text("generator.tar")
    shot("02-job-succeeded")

    nav = page.get_by_role("navigation")
    nav.get_by_role("link", name="Jobs").click()
    expect(page.locator("#jobs-table")).to_contain_text(dashboard.failed)
    shot("03-jobs")
    page.goto(f"{dashboard.url}/dashboard/jobs/{dashboard.failed}")
    expect(page.locator("#job-error")).to_contain_text("model_changed")
    shot("04-job-failed")

    nav.get_by_role("link", name="Models").click()
    expect(page.locator("#models-table")).to_contain_text("digits")
    shot("05-models")

    nav.get_by_role("link", name="Audit log").click()
    expect(page.locator("#chain-status")).to_contain_text("verified")
    shot("06-audit")

    page.goto(f"{dashboard.url}/dashboard/jobs/{dashboard.succeeded}/certificate")
    expect(page.locator("#signature-status")).to_contain_text("Signature valid")
    shot("07-certificate")
    with page.expect_download() as download_info:
        page.locator("#download-certificate").click()
    download = download_info.value
    target = screenshots / download.suggested_filename
    download.save_as(target)
    envelope = json.loads(target.read_text())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert statement["predicate"]["job_id"] == dashboard.succeeded
    assert envelope["signatures"][0]["sig"]

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    context.close()


FITS = "() => document.documentElement.scrollWidth <= window.innerWidth"


@pytest.mark.parametrize("width", [1360, 390])
def test_layout_at_desktop_and_phone_widths(
    dashboard: Dashboard, browser: object, screenshots: Path, width: int
) -> None:
    """Every page fits the window; the before/after grid is shown at its own pixel size (its
    16 px labels readable); audit hashes stay on one line; a missing page keeps the nav."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    expect = playwright_api.expect
    page.goto(f"{dashboard.url}/dashboard/login")
    page.get_by_label("API key").fill(dashboard.officer_key)
    page.get_by_role("button", name="Sign in").click()
    topbar = page.locator("header.topbar nav")
    expect(topbar).to_be_visible()

    pages = {
        "job": f"/dashboard/jobs/{dashboard.succeeded}",
        "failed": f"/dashboard/jobs/{dashboard.failed}",
        "jobs": "/dashboard/jobs",
        "audit": "/dashboard/audit",
        "models": "/dashboard/models",
        "certificate": f"/dashboard/jobs/{dashboard.succeeded}/certificate",
        "missing": "/dashboard/jobs/job_missing",
    }
    for name, path in pages.items():
        page.goto(dashboard.url + path)
        page.wait_for_load_state("load")
        page.screenshot(path=str(screenshots / f"layout-{width}-{name}.png"), full_page=True)
        sizes = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert page.evaluate(FITS), f"{name} at {width} px is {sizes[0]} px wide"

    page.goto(dashboard.url + pages["job"])
    grid = page.locator("#samples-grid")
    expect(grid).to_be_visible()
    shown, natural = grid.evaluate(
        "img => [img.getBoundingClientRect().width - 2, img.naturalWidth]"
    )  # the 1 px border on each side
    assert natural > 0 and abs(shown - natural) < 1, (shown, natural)
    legend = page.locator("#job-charts svg.chart text.legend").all_text_contents()
    assert legend and "nan_dropped" not in legend, legend

    page.goto(dashboard.url + pages["certificate"])
    metrics = page.locator("#certificate-metrics").inner_text()
    assert "%" in metrics, metrics  # shares as percentages, as on the job page

    page.goto(dashboard.url + pages["audit"])
    for cell in page.locator("td.hash-cell code").all()[:10]:
        height, line = cell.evaluate(
            "c => [c.getBoundingClientRect().height, parseFloat(getComputedStyle(c).lineHeight)]"
        )
        assert height < 1.5 * line, (height, line)  # one line, not broken into fragments

    page.goto(dashboard.url + pages["missing"])
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(topbar.get_by_role("link", name="Audit log")).to_be_visible()
    context.close()
