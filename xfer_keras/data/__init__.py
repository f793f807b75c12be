"""Datasets: CK+ sequences, image folders, landmark-sequence tensors, splits, caches."""

from xfer_keras.data.dataset import SequenceDataset
from xfer_keras.data.synthetic import planted_sequences

__all__ = ["SequenceDataset", "planted_sequences"]
