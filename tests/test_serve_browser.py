"""The web app in a real browser: headless Chromium uploads a photo and sees the emotion, the
panel and the narration; a bad file shows its one-line message. Skips only where no browser can
be installed (``.ci/run`` installs Debian's ``chromium`` and ``chromium-driver``)."""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest

pytest.importorskip("starlette")
webdriver = pytest.importorskip("selenium.webdriver")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="no browser: apt-get install chromium chromium-driver")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(face_landmarker_path, shipped_classifier):
    """The app under uvicorn on a free loopback port, in a thread of this process."""
    import uvicorn

    from xfer_keras.web.app import create_app
    from xfer_keras.web.service import ExplainService, ServeSettings

    settings = ServeSettings()
    service = ExplainService(settings)
    port = _free_port()
    config = uvicorn.Config(create_app(settings, service), host="127.0.0.1", port=port,
                            log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not instance.started and time.time() < deadline:
        time.sleep(0.05)
    assert instance.started, "the server did not start"
    yield f"http://127.0.0.1:{port}/"
    instance.should_exit = True
    thread.join(timeout=10)
    service.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic",
                 "--window-size=1280,1600",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    print(f"\nbrowser: Chromium {driver.capabilities.get('browserVersion')}, "
          f"chromedriver {driver.capabilities.get('chrome', {}).get('chromedriverVersion', '?')}")
    yield driver
    driver.quit()


def _upload(browser, url, path):
    from selenium.webdriver.common.by import By

    browser.get(url)
    browser.find_element(By.ID, "file").send_keys(str(path))
    browser.find_element(By.ID, "go").click()


def _wait(browser, condition, seconds=60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, seconds).until(condition)


def test_a_photo_shows_its_emotion_panel_and_narration(server, browser, tmp_path):
    from PIL import Image
    from selenium.webdriver.common.by import By
    from skimage import data

    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(photo)
    _upload(browser, server, photo)
    heading = _wait(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#results .emotion"))[0]
    assert heading.text.split(" (")[0] in ("anger", "disgust", "fear", "happiness", "neutral",
                                           "sadness", "surprise")
    panel = browser.find_element(By.CSS_SELECTOR, "#results img[alt='explanation panel']")
    assert panel.get_attribute("src").startswith("data:image/png;base64,")
    assert browser.execute_script("return arguments[0].naturalWidth", panel) > 100
    narration = browser.find_element(By.CSS_SELECTOR, "#results .narration").text
    assert len(narration.split()) > 5
    assert browser.find_element(By.ID, "message").text == ""


def test_a_bad_file_shows_its_message(server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    bad = tmp_path / "notes.txt"
    bad.write_text("not a picture")
    _upload(browser, server, bad)
    message = _wait(browser, lambda b: b.find_element(By.ID, "message").text)
    assert "notes.txt: not an image" in message
    assert not browser.find_elements(By.CSS_SELECTOR, "#results .emotion")
