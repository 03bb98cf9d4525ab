"""The README picture of `htrbatch serve`'s page (docs/img/serve.png), taken after a real
transcription of a sample in headless Chromium.

    python benchmarks/serve_screenshot.py --out docs/img/serve.png

Starts the server in this process (shipped model, default decoding), uploads the sample through
the page's file input, clicks one line (its crop and confidence open) and saves a screenshot.
Needs chromium, chromedriver and selenium.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import threading
import time
from pathlib import Path

import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from htrbatch.pipeline import TranscribeOptions, Transcriber
from htrbatch.serve.app import create_app
from htrbatch.serve.engine import Engine


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sample", type=Path, default=Path("samples/d05-335z-scan.jpg"))
    ap.add_argument("--out", type=Path, default=Path("docs/img/serve.png"))
    ap.add_argument("--width", type=int, default=1200)
    ap.add_argument("--line", type=int, default=-1, help="line to click (default: least sure)")
    ap.add_argument("--threshold", type=float, default=0.8, help="the page's highlight setting")
    args = ap.parse_args()

    app = create_app(Engine(Transcriber(TranscribeOptions(device="cpu", workers=0))))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.05)

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--hide-scrollbars"):
        opts.add_argument(arg)
    opts.add_argument(f"--window-size={args.width},900")
    driver = webdriver.Chrome(
        options=opts, service=Service(executable_path=shutil.which("chromedriver"))
    )
    try:
        driver.get(f"http://127.0.0.1:{port}/")
        box = driver.find_element(By.ID, "threshold")
        box.clear()
        box.send_keys(str(args.threshold))
        driver.find_element(By.ID, "files").send_keys(str(args.sample.resolve()))
        WebDriverWait(driver, 300).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".file.done"))
        items = driver.find_elements(By.CSS_SELECTOR, ".lines li")
        if args.line >= 0:
            pick = args.line
        else:
            confs = [
                float(li.find_element(By.CLASS_NAME, "conf").text.rstrip(" %")) for li in items
            ]
            pick = confs.index(min(confs))
        items[pick].click()
        time.sleep(0.3)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": args.width, "height": height + 16, "deviceScaleFactor": 1, "mobile": False},
        )
        time.sleep(0.3)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(args.out))
        print(f"wrote {args.out} ({len(items)} lines, clicked line {pick + 1})")
    finally:
        driver.quit()
        srv.should_exit = True
        thread.join(30)


if __name__ == "__main__":
    main()
