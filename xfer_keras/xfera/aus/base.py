"""The common face of every Action Unit source: :class:`AUReading` and :class:`AUSource`.

Each source has its own **scale** and **presence threshold**, and says so in every reading:

==========================  ==========  =====================================================
source                      scale       presence threshold
==========================  ==========  =====================================================
``openface``                0 - 5       0.3 (the paper's value on OpenFace's ``AUxx_r``)
``blendshapes``             0 - 1       per AU (probability of the learned mesh detector,
                                        fitted by ``scripts/au_agreement.py``)
``blendshapes:calibrated``  0 - 1       per AU (probability of the blendshape regressions,
                                        fitted by the same script)
``blendshapes:naive``       0 - 1       0.2 on the raw blendshape score
==========================  ==========  =====================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xfer_keras.xfera.facs import au_label


@dataclass
class AUReading:
    """Action Unit intensities of one face, on the scale of the source that produced them."""

    source: str
    intensities: dict[int, float]            # AU -> intensity on ``scale``
    thresholds: dict[int, float]             # AU -> presence threshold on the same scale
    scale: tuple[float, float] = (0.0, 1.0)
    classes: dict[int, bool] = field(default_factory=dict)  # OpenFace AUxx_c, when given
    confidence: float | None = None          # the source's tracking confidence, when given
    default_threshold: float = 0.5

    def threshold(self, au: int) -> float:
        return float(self.thresholds.get(au, self.default_threshold))

    def intensity(self, au: int) -> float | None:
        value = self.intensities.get(au)
        return None if value is None else float(value)

    def present(self, au: int) -> bool:
        """Intensity at or above this source's threshold for ``au`` (absent when not measured)."""
        value = self.intensity(au)
        return value is not None and value >= self.threshold(au)

    def normalized(self, au: int) -> float:
        """Intensity mapped to [0, 1] by the source's scale (0 when not measured)."""
        value = self.intensity(au)
        if value is None:
            return 0.0
        low, high = self.scale
        return float(min(max((value - low) / (high - low), 0.0), 1.0))

    @property
    def aus(self) -> list[int]:
        return sorted(self.intensities)

    @property
    def present_aus(self) -> list[int]:
        return [au for au in self.aus if self.present(au)]

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "scale": list(self.scale),
            "confidence": self.confidence,
            "aus": {
                au_label(au): {
                    "intensity": round(float(self.intensities[au]), 6),
                    "threshold": self.threshold(au),
                    "present": self.present(au),
                    **({"class": bool(self.classes[au])} if au in self.classes else {}),
                }
                for au in self.aus
            },
        }


class AUSource:
    """Interface: ``read(image=None, face=None, path=None) -> AUReading``.

    ``image`` is the full RGB uint8 image, ``face`` a :class:`xfer_keras.face.Face` (MediaPipe,
    with blendshapes), ``path`` the image file when there is one. A source uses what it needs
    and raises :class:`AUSourceError` when that is missing.
    """

    name: str = "abstract"
    scale: tuple[float, float] = (0.0, 1.0)
    threshold: float = 0.5
    needs_blendshapes: bool = False

    def read(self, image=None, face=None, path=None) -> AUReading:  # pragma: no cover
        raise NotImplementedError

    def describe(self) -> str:
        return f"{self.name} (scale {self.scale[0]:g}-{self.scale[1]:g}, threshold {self.threshold:g})"
