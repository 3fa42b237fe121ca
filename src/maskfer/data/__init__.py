"""Stage 1: datasets as tables (one row per image, labels from the dataset's own naming), balanced
sampling, and the fixed person hold-outs. Reading one image is `maskfer.core.images`."""

from maskfer.data.readers import COLUMNS, LAYOUTS, Dataset, DatasetError, Skipped, detect_layout, read_dataset
from maskfer.data.sampling import balanced_sample, held_out_subjects

__all__ = ["COLUMNS", "LAYOUTS", "Dataset", "DatasetError", "Skipped", "balanced_sample", "detect_layout",
           "held_out_subjects", "read_dataset"]
