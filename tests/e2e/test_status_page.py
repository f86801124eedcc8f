"""The status page as a person sees it: real headless Chromium against the gateway
under gunicorn, with the loopback fake upstream and a seeded ledger.

Needs Debian's ``chromium`` and ``chromium-driver`` (``make test`` installs them
when it runs as root); without them this test fails and says what to install.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from tests.conftest import API_KEY
from tests.e2e.conftest import run_gateway
from tests.fakes.cloudcode import FakeCloudCode, serve
from tests.upstream_env import upstream_section
from tests.usage_env import seed_box

pytestmark = pytest.mark.e2e

CHROMIUM = ("chromium", "chromium-browser")
DRIVER = "chromedriver"
INSTALL = "apt-get install -y chromium chromium-driver (as root; make test does it)"


def browser(tmp_path: Path):
    binary = next(filter(None, (shutil.which(name) for name in CHROMIUM)), None)
    driver_path = shutil.which(DRIVER) or "/usr/lib/chromium/chromedriver"
    if binary is None or not os.path.exists(driver_path):
        pytest.fail(f"the status page test needs Chromium and its driver: {INSTALL}")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1400",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(driver_path))


@pytest.fixture
def page(tmp_path):
    home = tmp_path / "home"
    now = time.time()
    rows = seed_box(home, now)
    fake = FakeCloudCode()
    for name in ("ultra", "pro", "banned"):
        fake.add_account(f"1//secret-refresh-{name}", email=f"{name}@example.test")
    with serve(fake) as base:
        data = {
            "proxy": {"api_key": API_KEY, "auth_mode": "strict"},
            "upstream": upstream_section(base),
        }
        with run_gateway(home, data, workers=2, threads=4) as gateway:
            driver = browser(tmp_path)
            try:
                yield driver, gateway, rows
            finally:
                driver.quit()


def wait_for(condition, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("the page never showed what was expected")


def test_status_page_in_a_real_browser(page, tmp_path):
    driver, gateway, rows = page
    driver.get(gateway.base_url + "/")
    login = driver.find_element(By.ID, "login")
    assert login.is_displayed()
    assert "ultra" not in driver.page_source  # nothing about the box before the key

    driver.find_element(By.ID, "key").send_keys("wrong-key")
    driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait_for(lambda: driver.find_element(By.ID, "login-error").text)
    assert "refused" in driver.find_element(By.ID, "login-error").text
    assert "ultra" not in driver.page_source

    driver.find_element(By.ID, "key").send_keys(API_KEY)
    driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait_for(
        lambda: driver.find_element(By.TAG_NAME, "body").get_attribute("data-loaded")
    )
    assert not login.is_displayed()

    accounts = {
        row.get_attribute("data-account"): row
        for row in driver.find_elements(By.CSS_SELECTOR, "#accounts tbody tr")
    }
    assert set(accounts) == {"ultra", "pro", "banned"}
    assert "ultra@example.test" in accounts["ultra"].text
    assert (
        accounts["banned"].find_element(By.CSS_SELECTOR, ".state").text == "forbidden"
    )
    assert accounts["pro"].find_element(By.CSS_SELECTOR, ".state").text == "cooling"
    countdown = accounts["pro"].find_element(By.CSS_SELECTOR, ".countdown")
    first = seconds(countdown.text)
    assert 200 < first <= 240
    wait_for(lambda: seconds(countdown.text) < first, timeout=5)
    bars = accounts["ultra"].find_elements(By.CSS_SELECTOR, ".quota")
    assert [b.text for b in bars] == ["claude 55%", "gemini-3-flash 80%"]

    assert driver.find_element(By.ID, "total-requests").text == str(len(rows))
    assert driver.find_element(By.ID, "total-errors").text == "2"
    tokens = sum(r.input_tokens + r.output_tokens for r in rows)
    assert chart_total(driver, "chart-requests-model") == len(rows)
    assert chart_total(driver, "chart-requests-account") == len(rows)
    assert chart_total(driver, "chart-tokens-model") == tokens
    assert chart_total(driver, "chart-errors") == 2
    bars = driver.find_elements(By.CSS_SELECTOR, "#chart-requests-model svg rect")
    assert len(bars) >= 20  # one bar per model per busy hour

    shot = tmp_path / "status-page.png"
    driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("STATUS_PAGE_SCREENSHOT"):  # to refresh docs/status-page.png
        shutil.copy(shot, os.environ["STATUS_PAGE_SCREENSHOT"])

    driver.find_element(By.CSS_SELECTOR, "#range button[data-range='7d']").click()
    assert chart_total(driver, "chart-requests-model") == len(rows)

    failed = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".request-id")]
    assert failed[:2] == ["req_cut_stream", "req_failed_429"]

    assert API_KEY not in driver.execute_script("return document.cookie")
    driver.find_element(By.ID, "logout").click()
    assert driver.find_element(By.ID, "login").is_displayed()
    assert driver.execute_script("return sessionStorage.length") == 0


def seconds(text: str) -> int:
    match = re.fullmatch(r"(?:(\d+)m )?(\d+)s", text)
    assert match, text
    return int(match.group(1) or 0) * 60 + int(match.group(2))


def chart_total(driver, chart_id: str) -> int:
    svg = driver.find_element(By.CSS_SELECTOR, f"#{chart_id} svg")
    return int(svg.get_attribute("data-total"))
