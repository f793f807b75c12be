"""Make the README's screenshot of the web app: serve, upload a photo in headless Chromium, save.

    python scripts/serve_screenshot.py [--photo PATH] [--out docs/serve.png]

Needs Debian's ``chromium`` and ``chromium-driver`` (``apt-get install chromium chromium-driver``)
and the shipped models. The photo defaults to scikit-image's astronaut (public domain).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import xfer_keras  # noqa: E402,F401  (sets ONEDNN_MAX_CPU_ISA before TensorFlow)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", default=None)
    parser.add_argument("--out", default=str(REPO / "docs" / "serve.png"))
    args = parser.parse_args(argv)

    import uvicorn
    from PIL import Image
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    from skimage import data

    from xfer_keras.atomic import atomic_write_bytes
    from xfer_keras.web.app import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.1)
    with tempfile.TemporaryDirectory() as folder:
        photo = Path(args.photo) if args.photo else Path(folder) / "astronaut.jpg"
        if not args.photo:
            Image.fromarray(data.astronaut()).save(photo)
        options = Options()
        options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                     "--window-size=1100,1500", "--disable-background-networking",
                     f"--user-data-dir={folder}/chromium"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
        try:
            driver.get(f"http://127.0.0.1:{port}/")
            driver.find_element(By.ID, "file").send_keys(str(photo))
            driver.find_element(By.ID, "go").click()
            WebDriverWait(driver, 120).until(
                lambda d: d.find_elements(By.CSS_SELECTOR, "#results .narration"))
            png = driver.get_screenshot_as_png()
        finally:
            driver.quit()
    server.should_exit = True
    print("wrote", atomic_write_bytes(args.out, png))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
