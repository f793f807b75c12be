"""The web app under load: one photo's answer time, 20 uploads at once, and bad uploads.

    python benchmarks/serve_load.py [--photo PATH] [--rounds 20] [--concurrent 20]

Starts ``python -m xfer_keras serve`` on a free loopback port (the shipped model, the template
narrator), waits until it answers, and prints:

1. a photo answered once the server is warm: the median and 95th percentile of ``--rounds``
   uploads one after another (goal: median <= 1 s on 2 CPU cores);
2. ``--concurrent`` uploads of 256 px photos sent at the same moment: how many came back right
   (status 200 and the emotion of the same photo sent alone), and the median and 95th
   percentile of their answer times;
3. bad uploads (not an image, an empty file, 60 MB, a corrupt video): the status and the
   one-line message of each, and whether the next good upload is still answered.

The server is stopped at the end. Figures vary with what else runs on the machine.
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def png_bytes(image: np.ndarray, size: int | None = None) -> bytes:
    from PIL import Image

    picture = Image.fromarray(image)
    if size:
        scale = size / max(picture.size)
        picture = picture.resize((round(picture.width * scale), round(picture.height * scale)))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def start_server(port: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "xfer_keras", "serve", "--port", str(port)],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def wait_until_up(client, url: str, server: subprocess.Popen, seconds: float = 120) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped: {server.stderr.read()[-2000:]}")
        try:
            if client.get(url + "api/health").status_code == 200:
                return time.perf_counter() - started
        except Exception:  # not listening yet
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not answer in time")


def post(client, url: str, name: str, data: bytes) -> tuple[int, dict, float]:
    started = time.perf_counter()
    answer = client.post(url + "api/explain", files={"file": (name, data)}, timeout=300)
    return answer.status_code, answer.json(), time.perf_counter() - started


def post_alone(url: str, name: str, data: bytes) -> tuple[int, dict, float]:
    """One upload on a connection of its own (a browser of its own)."""
    import httpx

    with httpx.Client(timeout=300) as client:
        return post(client, url, name, data)


def emotion_of(body: dict) -> str | None:
    try:
        return body["results"][0]["explanations"][0]["emotion"]
    except (KeyError, IndexError):
        return None


def percentiles(values) -> str:
    values = np.asarray(values, dtype=float)
    return (f"median {np.median(values) * 1000:7.0f} ms, p95 {np.percentile(values, 95) * 1000:7.0f} ms,"
            f" max {values.max() * 1000:7.0f} ms")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", default=None, help="a face photo (default: a CK+ peak frame "
                                                      "when XFER_DATA_DIR has one, else the astronaut)")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--concurrent", type=int, default=20)
    args = parser.parse_args(argv)
    import httpx
    from skimage import data

    sys.path.insert(0, str(REPO))
    from xfer_keras.face import load_image

    if args.photo:
        image = load_image(args.photo)
    else:
        peaks = sorted(Path(os.environ.get("XFER_DATA_DIR", "/nonexistent"))
                       .glob("ckplus_sequences/images/S052/001/*.png"))
        image = load_image(peaks[-1]) if peaks else data.astronaut()
    photo, small = png_bytes(image), png_bytes(image, size=256)

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    server = start_server(port)
    try:
        with httpx.Client(timeout=300) as client:
            up = wait_until_up(client, url, server)
            print(f"server up in {up:.1f} s at {url} (models loaded at start-up)")
            status, body, first = post(client, url, "photo.png", photo)
            print(f"first photo: {first * 1000:.0f} ms, status {status}, {emotion_of(body)}")

            times = []
            for _ in range(args.rounds):
                status, body, seconds = post(client, url, "photo.png", photo)
                assert status == 200, body
                times.append(seconds)
            print(f"\n1. one {image.shape[1]}x{image.shape[0]} photo, warm, {args.rounds} uploads one "
                  f"after another: {percentiles(times)}  (goal: median <= 1000 ms)")

            status, alone, _ = post(client, url, "small.png", small)
            expected = emotion_of(alone)
            with ThreadPoolExecutor(args.concurrent) as pool:
                started = time.perf_counter()
                answers = list(pool.map(lambda k: post_alone(url, f"small{k}.png", small),
                                        range(args.concurrent)))
                wall = time.perf_counter() - started
            right = sum(s == 200 and emotion_of(b) == expected for s, b, _ in answers)
            print(f"\n2. {args.concurrent} uploads of a 256 px photo at once: {right} of "
                  f"{len(answers)} answered right ({expected}), none lost: "
                  f"{len(answers) == args.concurrent}; {percentiles([t for *_, t in answers])}; "
                  f"all done in {wall:.2f} s")

            bad = [("notes.txt", b"a text file, not a picture"),
                   ("empty.png", b""),
                   ("huge.png", b"\x89PNG\r\n\x1a\n" + bytes(60_000_000)),
                   ("corrupt.mp4", b"\x00\x00\x00\x18ftypmp42" + os.urandom(50_000))]
            print("\n3. bad uploads (status, the one-line message, then a good upload):")
            for name, payload in bad:
                status, body, seconds = post(client, url, name, payload)
                message = body.get("error", "")
                after, good, _ = post(client, url, "photo.png", photo)
                one_line = "\n" not in message and bool(message)
                print(f"   {name:12s} {status}  {message[:90]!r:94s} one line: {one_line};"
                      f" next good upload: {after} {emotion_of(good)}")
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
