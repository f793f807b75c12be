"""Builders of realistic result objects shared by several test modules."""

import numpy as np

from xfer_keras.xfera.explanation import Explanation


def make_explanation(**overrides):
    base = dict(
        image="faces/happy.png", emotion="happiness",
        probabilities={"anger": 0.01, "disgust": 0.01, "fear": 0.01, "happiness": 0.93,
                       "neutral": 0.02, "sadness": 0.01, "surprise": 0.01},
        confidence_level="High", confidence_score=0.96, hot_landmarks=[36, 39, 48, 54],
        heat_threshold=0.61,
        aus={"AU06": {"au": 6, "label": "AU06", "name": "Cheek raiser", "description": "the lifting of the cheek",
                      "intensity": 2.0, "threshold": 0.3, "normalized": 0.4, "present": True,
                      "hot_fraction": 0.75, "final_score": 0.6},
             "AU12": {"au": 12, "label": "AU12", "name": "Lip corner puller",
                      "description": "the pulling of the lip corner", "intensity": 3.0, "threshold": 0.3,
                      "normalized": 0.6, "present": True, "hot_fraction": 0.8, "final_score": 0.7}},
        matching_aus=["AU06", "AU12"], missing_aus=[], hot_aus=["AU06", "AU12"],
        scores={"AU06": 0.6, "AU12": 0.7},
        explanation='I analyzed the facial expression and classified it as "Happiness".',
        au_source="openface", au_scale=[0.0, 5.0], landmarks=np.random.default_rng(0).uniform(0, 224, (68, 2)),
        crop=np.zeros((224, 224, 3), np.uint8), heatmap=np.zeros((224, 224), np.float32),
        timings={"classify": 0.01, "gradcam": np.float64(0.02)},
    )
    base.update(overrides)
    return Explanation(**base)
