"""Follow faces across sampled frames by box overlap, so a timeline is about one person.

:class:`FaceTracker` matches each frame's detected boxes to the open tracks greedily by IoU
(highest overlap first, at least ``min_iou``); an unmatched box opens a new track; a track not
seen for more than ``max_missed`` sampled frames is closed (a face that comes back after that is
a new track). Track ids count from 0 in order of appearance.

:meth:`FaceTracker.main` picks the face a ``--faces largest`` timeline follows: the main track
while it is open, and, once it is lost (closed), the largest face of the frame, whose track then
becomes the main one ("re-detect when lost"); a face seen more often than the main one takes
over at once when the main one is missed. Detection itself runs on every sampled frame
(dlib HOG on a 320-pixel copy, MediaPipe's detector when HOG finds nothing), so a lost face is
looked for again on the very next frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from xfer_keras.face.detector import box_iou

__all__ = ["FaceTracker", "Track", "DEFAULT_MIN_IOU", "DEFAULT_MAX_MISSED"]

DEFAULT_MIN_IOU = 0.3
DEFAULT_MAX_MISSED = 5  # sampled frames (1 s at the default 5 samples/s)


@dataclass
class Track:
    id: int
    box: tuple
    last_seen: int   # sampled-frame counter
    n_seen: int = 1


class FaceTracker:
    """Greedy IoU tracker over per-frame face boxes (see the module doc)."""

    def __init__(self, min_iou: float = DEFAULT_MIN_IOU, max_missed: int = DEFAULT_MAX_MISSED):
        self.min_iou, self.max_missed = float(min_iou), int(max_missed)
        self.tracks: dict[int, Track] = {}
        self.main_id: int | None = None
        self._next_id = 0
        self._step = -1

    def update(self, boxes) -> list[int]:
        """Track id of each box of the next sampled frame (same order as ``boxes``)."""
        self._step += 1
        step = self._step
        for track_id in [t.id for t in self.tracks.values() if step - t.last_seen > self.max_missed + 1]:
            del self.tracks[track_id]
        pairs = sorted(((box_iou(box, track.box), i, track.id)
                        for i, box in enumerate(boxes) for track in self.tracks.values()),
                       reverse=True)
        ids: list[int | None] = [None] * len(boxes)
        taken = set()
        for iou, i, track_id in pairs:
            if iou < self.min_iou:
                break
            if ids[i] is None and track_id not in taken:
                ids[i] = track_id
                taken.add(track_id)
        for i, box in enumerate(boxes):
            if ids[i] is None:
                ids[i] = self._next_id
                self.tracks[self._next_id] = Track(self._next_id, tuple(box), step, 0)
                self._next_id += 1
            track = self.tracks[ids[i]]
            track.box, track.last_seen = tuple(box), step
            track.n_seen += 1
        return [int(i) for i in ids]

    def main(self, boxes, ids: list[int]) -> int | None:
        """Index into ``boxes`` of the main face in this frame, or None (main face not seen).

        Call after :meth:`update` with its ids. The main face is kept while it is seen. When it
        is not, a face of this frame whose track was seen more often before this frame takes
        over (the largest of them), so a one-frame false detection cannot hold the timeline; when
        none has, the frame is a miss for the main face (its row is ``no_face``) until its track
        closes, and then the largest face of the frame becomes the main one.
        """
        if self.main_id is not None and self.main_id in ids:
            return ids.index(self.main_id)
        if not boxes:
            return None
        main = self.tracks.get(self.main_id) if self.main_id is not None else None
        areas = [max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1]) for b in boxes]
        candidates = [i for i in range(len(boxes))
                      if main is None or self.tracks[ids[i]].n_seen - 1 > main.n_seen]
        if not candidates:
            return None  # briefly lost: keep following it
        best = max(candidates, key=areas.__getitem__)
        self.main_id = ids[best]
        return best
