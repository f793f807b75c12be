"""The face-detection benchmark's material: conditions move the true box with the face,
composites hold 2-4 separate faces, the split keeps a source in one half, negatives hold no
source face, and the scoring counts hits, misses and false faces."""

from __future__ import annotations

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from xfer_keras.evaluation import face_detection as fd  # noqa: E402


def dotted_face(size=(320, 240), box=(100, 60, 200, 180), n=24):
    """A flat image with one bright dot at each of ``n`` ellipse points of ``box``."""
    w, h = size
    image = np.full((h, w, 3), 40, np.uint8)
    points = fd.ellipse_points(box, n)
    for x, y in points:
        cv2.circle(image, (int(round(x)), int(round(y))), 2, (255, 255, 255), -1)
    return image, points


def dots_near(image, points, radius=4.0) -> float:
    """Share of ``points`` with a bright pixel within ``radius``."""
    bright = np.argwhere(image.max(axis=2) > 150)[:, ::-1].astype(np.float32)
    if len(bright) == 0:
        return 0.0
    near = [np.min(np.hypot(*(bright - p).T)) <= radius for p in points]
    return float(np.mean(near))


@pytest.mark.parametrize("degrees", [30, -45, 60])
def test_rotation_moves_points_with_the_pixels(degrees):
    image, points = dotted_face()
    out, moved = fd.rotate(image, points, degrees)
    assert dots_near(out, moved) == 1.0
    box = fd.points_box(moved)
    assert all(box[0] <= x <= box[2] and box[1] <= y <= box[3] for x, y in moved)
    assert out.shape[0] >= image.shape[0] and out.shape[1] >= image.shape[1]  # nothing cut off
    # an ellipse turned by 45 degrees has a box close to square
    if abs(degrees) == 45:
        assert abs((box[2] - box[0]) - (box[3] - box[1])) < 6


@pytest.mark.parametrize("height", [40, 80, 160])
def test_canvas_scales_the_face_to_the_asked_height(height):
    image, points = dotted_face(size=(640, 480), box=(250, 120, 400, 320), n=24)
    background = np.zeros((960, 1280, 3), np.uint8)
    out, moved = fd.place_in_canvas(image, points, height, background,
                                    np.random.default_rng(1))
    assert out.shape == (960, 1280, 3)
    x0, y0, x1, y1 = fd.points_box(moved)
    assert y1 - y0 == pytest.approx(height, abs=1.5)
    assert 0 <= x0 and x1 <= 1280 and 0 <= y0 and y1 <= 960
    if height >= 80:  # dots stay visible
        assert dots_near(out, moved, radius=3.0) >= 0.9


def test_three_quarter_crop_cuts_35_percent_of_the_face_width():
    image, points = dotted_face()
    x0, _, x1, _ = fd.points_box(points)
    for seed in range(4):
        out, moved = fd.three_quarter(image, points, np.random.default_rng(seed))
        bx0, _, bx1, _ = fd.points_box(moved)
        assert (bx1 - bx0) == pytest.approx(0.65 * (x1 - x0), abs=1.5)
        assert 0 <= bx0 and bx1 <= out.shape[1]


def test_occlusion_covers_a_quarter_of_the_face_box():
    image, points = dotted_face()
    out, rect = fd.occlude(image, points, np.random.default_rng(3))
    x0, y0, x1, y1 = fd.points_box(points)
    area = (rect[2] - rect[0]) * (rect[3] - rect[1])
    assert area == pytest.approx((x1 - x0) * (y1 - y0) / 4, rel=0.01)
    assert x0 <= rect[0] and rect[2] <= x1 and y0 <= rect[1] and rect[3] <= y1
    assert (out != image).any(axis=2).sum() > 0.2 * area


def test_photometric_conditions_keep_the_box():
    image, points = dotted_face()
    rng = np.random.default_rng(0)
    for name in ("as is", "brightness x0.3", "contrast x0.5", "JPEG q20"):
        out, moved = fd.apply_condition(name, image, points, rng)
        assert out.shape == image.shape and np.array_equal(moved, points)
    assert fd.brightness(image).max() <= 0.3 * 255 + 1
    assert set(fd.condition_names()) >= {"rotated 30", "40 px in canvas", "2-4 faces composite",
                                         "three-quarter crop", "quarter occluded"}


def test_composite_has_2_to_4_faces_that_do_not_overlap():
    faces = [dotted_face(size=(320, 240), box=(100 + 5 * i, 60, 200, 180)) for i in range(4)]
    background = np.zeros((960, 1280, 3), np.uint8)
    for count in (2, 3, 4):
        for seed in range(3):
            canvas, pts, rects, used = fd.composite(faces[:count], background,
                                                    np.random.default_rng(seed))
            assert len(pts) == len(rects) == len(used) == count
            boxes = [fd.points_box(p) for p in pts]
            for i in range(count):
                for j in range(i + 1, count):
                    assert fd.box_iou(boxes[i], boxes[j]) == 0.0
                    a, b = rects[i], rects[j]
                    assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
            assert dots_near(canvas, np.concatenate(pts), radius=3.5) >= 0.9


# ----------------------------------------------------------------- a tiny fake data folder
def fake_data(root, n=6):
    """CK+ (2 subjects), Taiwanese (2 performers) and FER2013 train images, each a
    recognisable flat pattern."""
    rng = np.random.default_rng(0)
    ck = root / "ckplus_sequences"
    rows = []
    for k in range(n):
        subject, seq, frame = f"S{100 + k % 2:03d}", f"{k:03d}", 1
        folder = ck / "images" / subject / seq
        folder.mkdir(parents=True)
        cv2.imwrite(str(folder / f"{subject}_{seq}_{frame:08d}.png"),
                    rng.integers(0, 255, (490, 640, 3), dtype=np.uint8))
        pts = fd.ellipse_points((220, 150, 420, 380), 68)
        rows.append([subject, seq, frame, "happy", 1, 0, 0, 1, 1]
                    + [v for p in pts for v in (round(float(p[0]), 1), round(float(p[1]), 1))])
    header = ["subject", "sequence", "frame", "emotion", "n_faces", "box_l", "box_t", "box_r",
              "box_b"] + [f"{a}{i}" for i in range(68) for a in "xy"]
    (ck / "landmarks_dlib68.csv").write_text(
        "\n".join([",".join(header)] + [",".join(str(v) for v in r) for r in rows]) + "\n")
    tw = root / "taiwanese_fe" / "images"
    tw.mkdir(parents=True)
    for k in range(n):
        cv2.imwrite(str(tw / f"0{1 + k % 2}11b0{k}.jpg"),
                    rng.integers(0, 255, (256, 256, 3), dtype=np.uint8))
    fer = root / "fer2013_sharp" / "train" / "happy"
    fer.mkdir(parents=True)
    for k in range(n):
        cv2.imwrite(str(fer / f"Training_{k}.jpg"), rng.integers(0, 255, (48, 48), dtype=np.uint8))
    return root


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    root = fake_data(tmp_path_factory.mktemp("data"))
    folder = tmp_path_factory.mktemp("cache") / "set"
    samples = fd.build_set(root, folder, limit=6, n_negatives=15, seed=0)
    return root, folder, samples


def test_set_has_every_condition_and_boxes_inside_the_images(small_set):
    _, folder, samples = small_set
    positives = [s for s in samples if s.positive]
    assert {s.condition for s in positives} == set(fd.condition_names())
    assert sum(not s.positive for s in samples) == 15
    for s in positives[::7]:
        image = fd.load_image(folder, s.id)
        for x0, y0, x1, y1 in s.boxes:
            assert 0 <= x0 < x1 <= image.shape[1] + 1 and 0 <= y0 < y1 <= image.shape[0] + 1
    for s in positives:
        if s.condition.endswith("canvas"):
            height = int(s.condition.split()[0])
            (x0, y0, x1, y1), = s.boxes
            assert y1 - y0 == pytest.approx(height, abs=1.5)
    # read back from the cache: the same samples
    again = fd.build_set(None, folder, limit=6, n_negatives=15, seed=0)
    assert [(s.id, s.half, s.boxes) for s in again] == [(s.id, s.half, s.boxes) for s in samples]


def test_split_is_by_source_group(small_set):
    root, _, samples = small_set
    groups = {s.key: s.group for s in fd.list_sources(root, limit=6, seed=0)}
    half_of_group: dict[str, set] = {}
    for s in samples:
        if s.positive:
            for key in s.sources:
                half_of_group.setdefault(groups[key], set()).add(s.half)
        else:
            half_of_group.setdefault(s.sources[0], set()).add(s.half)
    assert all(len(h) == 1 for h in half_of_group.values())
    assert {h for hs in half_of_group.values() for h in hs} == {"tune", "report"}
    composites = [s for s in samples if s.condition == "2-4 faces composite"]
    assert composites and all(2 <= len(s.boxes) <= 4 for s in composites)
    assert all(len(s.boxes) == len(s.sources) for s in composites)


def test_negatives_contain_no_source_face(small_set, tmp_path):
    root, folder, samples = small_set
    negatives = [s for s in samples if not s.positive]
    assert all(not s.boxes for s in negatives)
    assert not set(fd.SKIMAGE_NEGATIVES) & set(fd.SKIMAGE_WITH_PEOPLE)
    # made without the data folder: the same pixels whatever the data holds
    made = fd.make_negatives(15, seed=0)
    for (sid, family, group, image), s in zip(made, negatives):
        assert sid == s.id and not group.startswith(("ckplus", "taiwanese", "fer2013"))
        assert np.array_equal(image, fd.load_image(folder, sid))
    # no negative contains a source image (template match of each source's centre patch)
    for source in fd.list_sources(root, limit=6, seed=0)[::3]:
        patch = source.load()
        h, w = patch.shape[:2]
        patch = patch[h // 3: h // 3 + 24, w // 3: w // 3 + 24]
        for _, _, _, image in made:
            if image.shape[0] < 24 or image.shape[1] < 24:
                continue
            score = cv2.matchTemplate(image, patch, cv2.TM_SQDIFF_NORMED).min()
            assert score > 0.01
    assert {f for _, f, _, _ in made} == set(fd.NEGATIVE_FAMILIES)


# ----------------------------------------------------------------------------- scoring
def test_scoring_counts_planted_hits_misses_and_false_faces():
    truth = (100.0, 100.0, 200.0, 200.0)
    samples = [
        fd.Sample("p1", "as is", "report", [truth]),                      # hit (IoU)
        fd.Sample("p2", "as is", "report", [truth]),                      # miss
        fd.Sample("p3", "rotated 30", "report", [truth, (400, 100, 500, 200)]),  # 1 of 2
        fd.Sample("n1", "negative:text", "report"),                       # a false face
        fd.Sample("n2", "negative:video", "report"),                      # clean
        fd.Sample("t1", "as is", "tune", [truth]),                        # other half: ignored
    ]
    detections = {
        "p1": [((105, 95, 205, 210), 1.0, "d"), ((110, 110, 190, 190), 0.5, "d")],  # + duplicate
        "p2": [((300, 300, 400, 400), 2.0, "d")],                         # elsewhere: false
        "p3": [((130, 80, 170, 250), 0.2, "d")],  # IoU < 0.3, centre inside, similar size: hit
        "n1": [((0, 0, 50, 50), 0.1, "d")],
        "t1": [],
    }
    r = fd.score_samples(samples, detections, None, "report")
    assert r["recall"]["as is"] == [1, 2]
    assert r["recall"]["rotated 30"] == [1, 2]
    assert r["mean_recall"] == pytest.approx(0.5)
    assert (r["negatives"], r["false_negatives"], r["false_faces"]) == (2, 1, 1)
    assert r["true_detections"] == 2 and r["all_detections"] == 5
    assert r["precision"] == pytest.approx(2 / 5)
    # a threshold drops the weak false face and the weak hit
    r = fd.score_samples(samples, detections, {"d": 0.3}, "report")
    assert r["false_faces"] == 0 and r["recall"]["rotated 30"] == [0, 2]
    # a box as big as the canvas does not hit by its centre
    assert not fd.is_hit((0, 0, 1280, 960), (600, 430, 680, 530))
    assert fd.is_hit((130, 80, 170, 250), truth)


def test_threshold_is_chosen_on_the_tune_half():
    truth = (100.0, 100.0, 200.0, 200.0)
    samples = [fd.Sample(f"p{i}", "as is", "tune", [truth]) for i in range(4)]
    samples += [fd.Sample(f"n{i}", "negative:text", "tune") for i in range(4)]
    samples += [fd.Sample("r", "negative:text", "report")]
    detections = {f"p{i}": [(truth, 2.0 + i, "d")] for i in range(4)}
    detections.update({f"n{i}": [((0, 0, 40, 40), 1.0, "d")] for i in range(4)})
    detections["r"] = [((0, 0, 40, 40), 5.0, "d")]  # would push the threshold if it were used
    threshold = fd.choose_threshold(samples, detections, ("d",), "tune")
    assert 1.0 < threshold["d"] <= 2.0
