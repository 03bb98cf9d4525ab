"""The upload page in a real browser (headless Chromium through Selenium): open it, upload a
sample, see its text. Skipped when chromium, its driver or selenium is missing (CI installs them:
.ci/run)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")
pytest.importorskip("selenium")

import uvicorn  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from htrbatch.decode import DecodeOptions  # noqa: E402
from htrbatch.pipeline import TranscribeOptions, Transcriber  # noqa: E402
from htrbatch.serve.app import create_app  # noqa: E402
from htrbatch.serve.engine import Engine  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "d05-335z-scan.jpg"
CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)
DRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None or DRIVER is None,
        reason="needs chromium and chromedriver (apt-get install chromium chromium-driver)",
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The app on a real socket, in a thread (the shipped model, greedy decoding)."""
    options = TranscribeOptions(device="cpu", decode=DecodeOptions(decoder="greedy"), workers=0)
    app = create_app(Engine(Transcriber(options)))
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    yield url
    srv.should_exit = True
    thread.join(30)


def chromium() -> webdriver.Chrome:
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM  # type: ignore[assignment]
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        opts.add_argument(arg)
    opts.add_argument("--window-size=1280,1000")
    return webdriver.Chrome(options=opts, service=Service(executable_path=DRIVER))


def test_page_uploads_a_sample_and_shows_its_text(server: str) -> None:
    expected = httpx.post(
        f"{server}/api/transcribe",
        files={"file": (SAMPLE.name, SAMPLE.read_bytes())},
        timeout=120,
    ).json()["pages"][0]
    driver = chromium()
    try:
        driver.get(server + "/")
        driver.find_element(By.ID, "files").send_keys(str(SAMPLE))
        WebDriverWait(driver, 120).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, ".file.done, .file.failed")
        )
        assert not driver.find_elements(By.CSS_SELECTOR, ".file.failed")
        items = driver.find_elements(By.CSS_SELECTOR, ".lines li")
        # each line's text, without the confidence after it
        shown = [
            driver.execute_script("return arguments[0].firstChild.textContent", li) for li in items
        ]
        assert shown == [line["text"] for line in expected["lines"]]
        assert "Laud" in " ".join(shown)
        assert len(driver.find_elements(By.CSS_SELECTOR, "svg.boxes rect")) == len(shown)
        items[0].click()
        detail = driver.find_element(By.CSS_SELECTOR, ".detail")
        assert detail.is_displayed() and "confidence" in detail.text
        assert driver.execute_script("return document.querySelector('.detail canvas').width") > 1
    finally:
        driver.quit()
