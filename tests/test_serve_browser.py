"""The web app in a real browser: headless Chromium uploads a photo and sees the emotion, the
panel and the narration; a clip shows its timeline and segment narrations; a webcam snapshot (the
browser's fake camera, which shows no face) and a bad file show their one-line messages. Skips
only where no browser can be installed (``.ci/run`` installs Debian's ``chromium`` and
``chromium-driver``)."""

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
                 "--window-size=1280,1600", "--use-fake-device-for-media-stream",
                 "--use-fake-ui-for-media-stream",
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


def test_a_clip_shows_its_timeline_and_segment_narrations(server, browser, ckplus_dir, tmp_path):
    from selenium.webdriver.common.by import By

    from clips import write_clip
    from xfer_keras.face import load_image

    frames = [load_image(p) for p in sorted((ckplus_dir / "images/S052/001").glob("*.png"))]
    clip = write_clip(tmp_path / "smile.mp4", frames, fps=10)
    _upload(browser, server, clip)
    timeline = _wait(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#results img[alt='timeline']"))[0]
    assert timeline.get_attribute("src").startswith("data:image/png;base64,")
    rows = browser.find_elements(By.CSS_SELECTOR, "#results table tr")
    segments = [r.text for r in rows if "0:" in r.text]
    assert segments and all(len(text.split()) > 6 for text in segments)  # each with its narration


def test_a_webcam_snapshot_is_sent_and_answered(server, browser):
    """The browser's fake camera shows a test pattern, not a face: the snapshot goes up as
    ``webcam.png`` and comes back with the one-line "no face" message."""
    from selenium.webdriver.common.by import By

    browser.get(server)
    browser.find_element(By.ID, "camera").click()
    _wait(browser, lambda b: b.execute_script(
        "return document.getElementById('webcam').videoWidth") > 0, seconds=20)
    browser.find_element(By.ID, "snap").click()
    message = _wait(browser, lambda b: b.find_element(By.ID, "message").text)
    assert message.startswith("webcam.png") and "face" in message
