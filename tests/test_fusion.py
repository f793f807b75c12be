"""Fusion (Algorithm 1): 70 % hot landmarks, source thresholds, combined score, confidence."""

import numpy as np
import pytest

from xfer_keras.xfera import facs
from xfer_keras.xfera.aus import AUReading
from xfer_keras.xfera.fusion import confidence_level, fuse
from xfer_keras.xfera.hot_landmarks import HotLandmarks


def hot_from(indices, value=0.9, threshold=0.5, n=68):
    hot = np.zeros(n, bool)
    hot[list(indices)] = True
    values = np.where(hot, value, 0.1).astype(np.float32)
    return HotLandmarks(values=values, hot=hot, threshold=threshold, mean=0.3, std=0.2, k=1.0,
                        region="hull", inside=np.ones(n, bool))


def openface(**aus):
    values = {facs.parse_au(k): v for k, v in aus.items()}
    return AUReading("openface", values, {a: 0.3 for a in values}, scale=(0.0, 5.0), default_threshold=0.3)


def test_figure1_happiness_high_confidence():
    hot = hot_from(set(facs.au_landmarks(6)) | set(facs.au_landmarks(12)))
    result = fuse("happiness", 0.95, hot, openface(AU06=2.0, AU12=3.5, AU01=0.1))
    assert result.matching_aus == (6, 12) and result.missing_aus == ()
    assert result.hot_aus == (6, 12) and result.confidence_level == "High"
    assert set(result.activated_aus) >= {6, 12}
    ev = result.by_au()
    assert ev[6].final_score == pytest.approx(0.5 * 2.0 / 5 + 0.5 * 0.9)
    assert ev[12].hot_fraction == 1.0 and ev[1].final_score is None
    assert result.scores == {"AU06": pytest.approx(0.65), "AU12": pytest.approx(0.8)}
    assert result.hot_descriptions() == ["the lifting of the cheek", "the pulling of the lip corner"]


def test_seventy_percent_rule_and_thresholds():
    landmarks = list(facs.au_landmarks(12))  # 20 landmarks
    need = int(np.ceil(0.7 * len(landmarks)))   # 14
    ok = fuse("happiness", 0.9, hot_from(landmarks[:need]), openface(AU12=1.0)).by_au()[12]
    short = fuse("happiness", 0.9, hot_from(landmarks[:need - 1]), openface(AU12=1.0)).by_au()[12]
    assert ok.heat_activated and ok.final_score is not None
    assert not short.heat_activated and short.final_score is None and short.present
    half = fuse("happiness", 0.9, hot_from(landmarks[:10]), openface(AU12=1.0), activation_ratio=0.5)
    assert half.by_au()[12].heat_activated  # the paper's prose uses 50 %
    # intensity under the source threshold (0.3 on OpenFace's 0-5 scale): not present, no score
    weak = fuse("happiness", 0.9, hot_from(landmarks), openface(AU12=0.29)).by_au()[12]
    assert not weak.present and weak.final_score is None
    # heatmap score below the heat threshold: no final score
    cold = fuse("happiness", 0.9, hot_from(landmarks, value=0.4, threshold=0.5), openface(AU12=2)).by_au()[12]
    assert cold.heat_activated and cold.final_score is None


def test_missing_aus_low_confidence_and_no_reading():
    result = fuse("anger", 0.4, hot_from([]), openface(AU12=3.0, AU04=0.0, AU05=0.0, AU07=0.0,
                                                     AU23=0.0))
    assert result.matching_aus == () and result.missing_aus and result.confidence_level == "Low"
    assert result.hot_aus == ()
    none = fuse("surprise", 0.8, hot_from(facs.au_landmarks(1)), None)
    assert none.matching_aus == () and none.missing_aus and none.notes
    assert all(e.intensity is None for e in none.evidence)


def test_neutral_and_levels():
    calm = fuse("neutral", 0.9, hot_from([]), openface(AU01=0.1))
    assert calm.confidence_level == "High" and calm.matching_aus == () and calm.missing_aus == ()
    busy = fuse("neutral", 0.5, hot_from([]), openface(AU01=2, AU12=2, AU26=2))
    assert busy.confidence_level == "Low"
    assert [confidence_level(s) for s in (0.9, 0.75, 0.6, 0.5, 0.2)] == ["High", "High", "Medium", "Medium", "Low"]


def test_blendshape_scale_and_per_au_thresholds():
    reading = AUReading("blendshapes", {6: 0.62, 12: 0.55}, {6: 0.6, 12: 0.6}, scale=(0.0, 1.0))
    result = fuse("happy", 0.9, hot_from(range(68)), reading)
    assert result.matching_aus == (6,) and result.by_au()[6].final_score == pytest.approx(0.5 * 0.62 + 0.5 * 0.9)
    assert not result.by_au()[12].present


def test_an_au_the_source_cannot_measure_is_never_missing_nor_typical():
    """Disgust's variants include AU10 (upper lip raiser); a source that does not measure AU10
    (the learned mesh detector on CK+) must not call it missing, nor hint at it as typical: the
    variant is chosen among the measured AUs. With none of an emotion's AUs measured, the
    prototype gives no support (coverage 0)."""
    reading = openface(AU09=0.0, AU17=2.0, AU15=0.0, AU04=0.0, AU12=0.0)  # no AU10 measured
    result = fuse("disgust", 0.9, hot_from([]), reading)
    assert 10 not in result.missing_aus and 10 not in result.variant
    assert 17 in result.matching_aus
    with_au10 = fuse("disgust", 0.9, hot_from([]), openface(AU10=0.0, AU17=2.0, AU09=0.0))
    assert 10 in with_au10.missing_aus + with_au10.matching_aus or 10 in with_au10.variant
    blind = facs.match_prototype("surprise", [], measured_aus=[12])
    assert blind.variant == () and blind.missing == () and blind.coverage == 0.0
    assert facs.match_prototype("neutral", [], measured_aus=[12]).coverage == 1.0
