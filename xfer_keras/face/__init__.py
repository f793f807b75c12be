"""Faces: image input, detection + landmarks (dlib 68 | MediaPipe 478 + blendshapes), square
crops, left/right flip permutations, overlays.

    from xfer_keras.face import LandmarkDetector, crop_face
    with LandmarkDetector("mediapipe") as detector:          # or "dlib"
        face = detector.detect_one("face.png")               # Face: box, landmarks, blendshapes
    crop = crop_face("face.png", face, size=224)             # Crop: image, landmarks, box, scale

Importing this package imports neither dlib nor mediapipe (nor TensorFlow): a backend is created
on the first detection. Coordinates: pixel centres at integers (see :mod:`xfer_keras.face.types`).
"""

from xfer_keras.errors import ImageReadError, MultipleFacesError, NoFaceError
from xfer_keras.face.batch import detect_many, iter_detect
from xfer_keras.face.crop import FRAMINGS, Framing, crop_face, eye_angle, square_box
from xfer_keras.face.detector import (
    BACKENDS,
    POLICIES,
    FaceVerifier,
    LandmarkDetector,
    clamp_box,
    detect_face,
    detect_faces,
)
from xfer_keras.face.draw import draw_landmarks, save_overlay, save_png
from xfer_keras.face.image import load_image
from xfer_keras.face.topology import DLIB68_REGIONS, flip_box, flip_landmarks, flip_permutation
from xfer_keras.face.types import Crop, Face, N_DLIB, N_MESH, N_MESH_IRIS

__all__ = [
    "load_image",
    "Face",
    "Crop",
    "FaceVerifier",
    "LandmarkDetector",
    "detect_faces",
    "detect_face",
    "detect_many",
    "iter_detect",
    "FRAMINGS",
    "Framing",
    "crop_face",
    "eye_angle",
    "square_box",
    "clamp_box",
    "flip_permutation",
    "flip_landmarks",
    "flip_box",
    "draw_landmarks",
    "save_png",
    "save_overlay",
    "N_DLIB",
    "N_MESH",
    "N_MESH_IRIS",
    "DLIB68_REGIONS",
    "BACKENDS",
    "POLICIES",
    "ImageReadError",
    "NoFaceError",
    "MultipleFacesError",
]
