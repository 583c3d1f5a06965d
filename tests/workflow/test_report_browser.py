"""The report in a real browser: headless Chromium opens every page, every image loads, no console errors;
the landing page shows the verdicts and its thumbnails link to existing pages."""

import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (CHROMIUM and DRIVER):
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium and chromium-driver (see .ci/run)")
        pytest.skip("headless Chromium not installed: apt-get install chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,2000",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    yield driver
    driver.quit()


def _check_page(driver, path: Path):
    driver.get(path.as_uri())
    images = driver.execute_script(
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.src.slice(0, 40)]);"
    )
    broken = [src for complete, width, src in images if not (complete and width > 0)]
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    return images, broken, errors


def test_every_report_page_renders(smoke_run, browser, tmp_path):
    report = smoke_run / "report"
    pages = [report / "index.html"] + sorted(p for p in report.glob("*.html") if p.name not in ("index.html", "snakemake.html"))
    total_images = 0
    for page in pages:
        images, broken, errors = _check_page(browser, page)
        assert not broken, f"{page.name}: images that did not load: {broken}"
        assert not errors, f"{page.name}: console errors: {errors}"
        total_images += len(images)
        if page.name == "constants.html":
            shot = tmp_path / "report_screenshot.png"  # never into the checkout or the smoke run's outputs
            browser.save_screenshot(str(shot))
            assert shot.stat().st_size > 10_000
    assert total_images >= 6


def test_landing_page_shows_verdicts_and_links_thumbnails_to_pages(smoke_run, browser):
    report = smoke_run / "report"
    browser.get((report / "index.html").as_uri())
    glance = browser.execute_script(
        "return Array.from(document.querySelectorAll('#verdicts li')).map(li => li.textContent);")
    for start in ("Claim A", "Claim B", "App. H", "Theory: largest max |Δε|"):
        assert any(item.startswith(start) for item in glance), (start, glance)
    assert not any(item.endswith("not run") for item in glance), glance
    for section in ("claims", "table4", "app-h", "theory-gaps"):
        rows = browser.execute_script(f"return document.querySelectorAll('#{section} tbody tr').length;")
        assert rows >= 2, section
    thumbs = browser.execute_script(
        "return Array.from(document.querySelectorAll('#pages a > img'))"
        ".map(i => [i.parentElement.href, i.complete, i.naturalWidth]);")
    pages = sorted(p.name for p in report.glob("*.html") if p.name not in ("index.html", "snakemake.html"))
    assert sorted(Path(unquote(urlparse(href).path)).name for href, _, _ in thumbs) == pages
    for href, complete, width in thumbs:
        target = Path(unquote(urlparse(href).path))
        assert target.resolve().parent == report.resolve() and target.is_file(), href
        assert complete and width > 0, href
    browser.get(thumbs[0][0])
    assert Path(unquote(urlparse(browser.current_url).path)).name == Path(unquote(urlparse(thumbs[0][0]).path)).name


def test_report_pages_load_nothing_from_the_network(smoke_run):
    for page in (smoke_run / "report").glob("*.html"):
        if page.name != "snakemake.html":
            text = page.read_text()
            assert "<script src=\"http" not in text and "cdnjs" not in text, page.name
