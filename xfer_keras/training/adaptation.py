"""Inference settings of a trained classifier chosen without test labels.

* :func:`check_input_blur`: measure, from pixels alone (:mod:`xfer_keras.data.blur`), how much
  blurrier the training images are than the images the model will see, and warn above 1 px (a
  sharp-trained model needs no blur); with ``apply=True`` (:func:`match_input_blur`) blur the
  inputs by that Gaussian (the shared FER2013 copy: blurred ``train/``, sharp ``test/``).
* :func:`choose_tta_flip`: average each crop with its mirror image when that raises validation
  accuracy.

Both set the classifier's config in place and return a record for its ``extra`` / model card.
"""

from __future__ import annotations

import dataclasses


def match_input_blur(classifier, train_images, reference_images) -> dict:
    """Set ``classifier.config.input_blur`` to the Gaussian sigma by which ``train_images`` are
    blurrier than ``reference_images`` (sharp images of the deployment domain; only their pixels
    are read), scaled from the images' size to the model's input size."""
    from xfer_keras.data.blur import estimate_relative_blur, gradient_energy

    size = int(train_images.shape[1])
    estimate = estimate_relative_blur(sharp=reference_images, blurred=train_images, size=size)
    classifier.config.input_blur = round(estimate.sigma * classifier.input_size / size, 2)
    return {"method": "xfer_keras.data.blur.estimate_relative_blur(reference pixels, "
                      "train pixels)",
            "sigma": estimate.sigma, "measured_at": size, "residual": estimate.residual,
            "gradient_energy": {"train": gradient_energy(train_images),
                                "test": gradient_energy(reference_images)}}


BLUR_WARNING_PX = 1.0


def check_input_blur(classifier, train_images, reference_images, apply: bool = False) -> dict:
    """:func:`match_input_blur`, then (unless ``apply``) keep the inputs sharp and warn on
    stderr when the train images are blurrier than the reference by more than 1 px."""
    import sys

    record = match_input_blur(classifier, train_images, reference_images)
    record["applied"] = bool(apply)
    if not apply:
        measured, classifier.config.input_blur = classifier.config.input_blur, 0.0
        if record["sigma"] > BLUR_WARNING_PX:
            print(f"WARNING: the train images are blurrier than the test images by a "
                  f"{record['sigma']:.2f} px Gaussian (at {record['measured_at']} px; "
                  f"{measured} px at the model input); train on a sharp copy, or blur the "
                  "inputs to match", file=sys.stderr, flush=True)
    return record


def choose_tta_flip(classifier, x_val, y_val) -> dict:
    """Set ``classifier.config.tta_flip`` on when mirror averaging raises validation accuracy.
    Validation images come from the training copy, so they are scored without ``input_blur``."""
    from xfer_keras.models.classifier import EmotionClassifier
    from xfer_keras.training.image import evaluate_classifier

    scores = {}
    for flip in (False, True):
        probe = EmotionClassifier(classifier.model, dataclasses.replace(
            classifier.config, input_blur=0.0, tta_flip=flip))
        scores[flip] = evaluate_classifier(probe, x_val, y_val).accuracy
    classifier.config.tta_flip = scores[True] > scores[False]
    return {"method": "validation accuracy", "val_accuracy_plain": scores[False],
            "val_accuracy_flip": scores[True]}
