"""The demo's report as a browser shows it: Debian's chromium (headless, driven by Playwright)
opens the report the demo's code writes from a real `robocover api` process over a small seeded
book, and what it shows is checked: the premium over time of each robot with its reasons (a
step chart per robot, a dot per score), the loss ratio with its figures and bar charts, the
claim's evidence with the collision at the loss. A screenshot of each page is kept; the test
prints where."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from cloud_api.settings import ApiSettings
from database.settings import CloudSettings
from tests.e2e.demo.book import SeededBook, api_environment, seed_book
from tests.support.api_process import ApiProcess
from tests.support.broker import MosquittoBroker

CHROMIUM = Path("/usr/bin/chromium")
PROJECT = Path(__file__).resolve().parents[3]
ARTIFACTS = Path(os.environ.get("ROBOCOVER_TEST_ARTIFACTS", PROJECT / "test-artifacts"))
REDIS_DB = 9


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make setup` installs Debian's chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


@pytest.fixture
def book(
    fresh_database: CloudSettings,
    mqtt_broker: MosquittoBroker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[SeededBook]:
    settings = ApiSettings(
        database_url=fresh_database.database_url,
        mqtt_url=mqtt_broker.url,
        mqtt_username=mqtt_broker.cloud_credentials.username,
        mqtt_password=mqtt_broker.cloud_credentials.password,
        mqtt_admin_password=mqtt_broker.admin_credentials.password,
        redis_url=f"{str(fresh_database.redis_url).rstrip('/0123456789')}/{REDIS_DB}",
    )
    env = api_environment(settings, str(settings.redis_url), tmp_path / "attachments")
    for name, value in env.items():
        if name.startswith("ROBOCOVER_"):
            monkeypatch.setenv(name, value)  # the demo's commands run with them too
    api = ApiProcess(env).start()
    try:
        yield seed_book(settings, api.url, tmp_path)
    finally:
        api.stop()


def shoot(page: Page, name: str) -> Path:
    """A full-page screenshot kept under the artifacts directory."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"demo-report-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_the_report_shows_premiums_loss_ratio_and_evidence(
    browser: Browser, book: SeededBook
) -> None:
    page = browser.new_page(viewport={"width": 820, "height": 1000})
    shots = []

    page.goto(book.report.as_uri())
    assert page.locator("h1").inner_text() == "robocover demo: from robot to payment"
    links = page.locator("#pages a")
    assert links.all_inner_texts() == [
        "Premium over time per robot, with the reasons",
        "Premium, claims and the loss ratio",
        "The claim's telemetry evidence",
    ]
    assert book.policy_number in page.locator("#steps").inner_text()
    shots.append(shoot(page, "index"))

    links.nth(0).click()
    assert page.locator("h1").inner_text().endswith(book.tenant)
    robots = page.locator("div.robot")
    assert robots.count() == 2
    dearer, steady = robots.nth(0), robots.nth(1)
    assert dearer.locator("h2").inner_text().startswith(book.serials[0])
    # A step chart per robot: the premium's path and a dot per score.
    assert dearer.locator("svg path.premium").count() == 1
    assert dearer.locator("svg circle.score").count() == 3
    assert steady.locator("svg circle.score").count() == 3
    figures = dearer.locator("table.scores").inner_text()
    for shown in ("44,000.00", "36,642.08", "30,000.00", "+22.1%", "More collisions (+22.1%)"):
        assert shown in figures
    assert "severe_event" in figures
    assert page.locator("script").count() == 0
    shots.append(shoot(page, "premiums"))

    page.go_back()
    links.nth(1).click()
    rows = page.locator("table#premium tr").all_inner_texts()
    month = rows[-1].split("\t")
    written, incurred, ratio = month[1], month[3], month[4]
    assert float(written.replace(",", "")) > 0
    assert incurred == "11,500.00"  # the claim paid: 12,000 agreed less the 500 deductible
    assert float(ratio) == pytest.approx(book.loss_ratio, abs=0.001)
    assert page.locator("svg").count() == 6
    assert page.locator("svg rect").count() >= 3  # written, incurred and the loss ratio bars
    assert "industrial_arm" in page.locator("table#classes").inner_text()
    shots.append(shoot(page, "reports"))

    page.go_back()
    links.nth(2).click()
    evidence = page.locator("body").inner_text()
    assert book.claim_number in evidence
    assert "collision" in evidence
    assert book.loss_at.isoformat() in evidence
    assert "yes: it matches its digest" in evidence
    shots.append(shoot(page, "evidence"))
    print(f"screenshots of the demo report: {', '.join(str(s) for s in shots)}")
    assert all(s.stat().st_size > 10_000 for s in shots)
