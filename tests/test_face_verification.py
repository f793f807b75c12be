"""Every explained face is checked by the face mesh: a real face is confirmed, a face-free
cartoon frame that dlib's HOG takes for a face is not, and an unconfirmed face is explained with
its detector's score and a confidence level of at most Medium (JSON, summary row, frames)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from xfer_keras.xfera.pipeline import _cap_confidence, _FaceWork, _ImageWork


def _face_work(box, detector="dlib-hog", mesh_boxes=(), mesh_ran=True):
    image = _ImageWork(name="x", rgb=None, path=None)
    image.mesh_ran = mesh_ran
    image.mesh_faces = [SimpleNamespace(box=b) for b in mesh_boxes]
    return _FaceWork(image=image, face=SimpleNamespace(box=box, detector=detector, score=0.5),
                     crop=None)


def test_a_hog_face_is_confirmed_by_a_mesh_face_centred_in_its_box():
    assert _face_work((10, 10, 110, 110), mesh_boxes=[(20, 20, 100, 100)]).verified() is True
    # a mesh face elsewhere in the image does not confirm it
    assert _face_work((10, 10, 110, 110), mesh_boxes=[(200, 20, 300, 100)]).verified() is False
    assert _face_work((10, 10, 110, 110), mesh_boxes=[]).verified() is False
    # the fallback's boxes were confirmed on their crop by the detector itself
    assert _face_work((10, 10, 110, 110), detector="mediapipe-face-detector").verified() is True
    # no mesh ran (an AU source without blendshapes): not checked
    assert _face_work((10, 10, 110, 110), mesh_ran=False).verified() is None


def test_the_confidence_cap_lowers_only_what_is_above_it():
    from xfer_keras.xfera.fusion import FusionResult

    def result(level):
        return FusionResult(emotion="happiness", probability=0.9, confidence_level=level,
                            confidence_score=0.9, evidence=[], variant=(), matching_aus=(),
                            missing_aus=(), activated_aus=(), hot_aus=(), heat_threshold=0.5)

    capped = _cap_confidence(result("High"), "Medium", "weak detection")
    assert capped.confidence_level == "Medium" and capped.notes == ["weak detection"]
    for level in ("Medium", "Low"):
        kept = _cap_confidence(result(level), "Medium", "weak detection")
        assert kept.confidence_level == level and kept.notes == []


@pytest.fixture(scope="module")
def pipeline():
    from xfer_keras.xfera.pipeline import XferaPipeline

    with XferaPipeline(prepare_workers=0) as pipe:
        yield pipe


def test_a_real_face_is_confirmed_and_carries_its_detection_score(ckplus_dir, pipeline):
    from xfer_keras.data.ckplus_frames import ckplus_peak_frames

    path = ckplus_peak_frames(1)["path"].iloc[0]
    result = pipeline.explain(str(path))
    assert result.face_verified is True
    assert result.detector == "dlib-hog" and result.detection_score > 0
    data = result.to_dict()
    assert data["face_verified"] is True and data["detection_score"] == result.detection_score
    row = result.to_row()
    assert row["face_verified"] is True and row["detection_score"] == result.detection_score


def test_a_cartoon_frame_hog_takes_for_a_face_is_explained_as_a_weak_detection(pipeline):
    """A face-free frame of the detection benchmark's cartoon clips (seeded, made here): dlib's
    HOG boxes a drawn face; neither the mesh of the whole frame nor the mesh on a crop around
    the box finds a face, so the explanation says so and its confidence is not High."""
    from xfer_keras.evaluation.face_detection import make_negatives

    sample_id, family, _, image = make_negatives(35, seed=0)[-1]
    assert family == "video", sample_id
    result = pipeline.explain(image, name=sample_id)
    assert result.detector == "dlib-hog"
    assert result.face_verified is False
    assert result.confidence_level in ("Medium", "Low")
    assert any("face mesh did not confirm" in note for note in result.notes) or \
        result.confidence_level == "Low"
    assert np.isfinite(result.detection_score)


def test_a_face_cut_by_the_frame_is_found_by_the_mesh_inside_a_border(ckplus_dir):
    """CK+ peak faces cropped tight (the forehead and 35 % of the width cut off): HOG and
    BlazeFace miss some; the last stage, the face mesh on the image inside a black border, finds
    them, with 68 points that fit the face; on the detection benchmark's face-free images
    (landscapes, text, textures, pictures, clip frames) that stage finds nothing."""
    from xfer_keras.data.ckplus_frames import ckplus_peak_frames
    from xfer_keras.evaluation.face_detection import make_negatives
    from xfer_keras.face import LandmarkDetector, load_image

    missed_by_both, found, errors = 0, 0, []
    with LandmarkDetector("dlib", fallback="mediapipe") as detector:
        backend = detector._backend()
        for path in ckplus_peak_frames(1)["path"].iloc[:12]:
            image = load_image(path)
            face = detector.detect_one(image)
            x0, y0, x1, y1 = face.box
            left, top = x0 + int(0.35 * (x1 - x0)), y0 + int(0.1 * (y1 - y0))
            tight = np.ascontiguousarray(image[top:y1, left:x1])
            if not backend.boxes(tight[:, :, 0]) and not backend._fallback_boxes(tight, True):
                missed_by_both += 1
            cut = detector.detect(tight, policy="all")
            found += len(cut) == 1
            if cut and cut[0].detector == "mediapipe-landmarker":
                reference = face.landmarks - np.array([left, top], np.float32)
                inside = ((reference >= 0) & (reference < tight.shape[1::-1])).all(axis=1)
                iod = np.linalg.norm(reference[36] - reference[45])
                errors.append(np.linalg.norm(cut[0].landmarks - reference, axis=1)[inside].mean()
                              / iod)
        verifier = backend._verifier_for_fallback()
        fired = [family for _, family, _, negative in make_negatives(80, seed=0)
                 if verifier.padded_face(negative) is not None]
    assert missed_by_both >= 2, "the tight crops should include faces both detectors miss"
    assert found == 12 and len(errors) >= missed_by_both
    assert np.mean(errors) < 0.1, errors
    assert fired == []
