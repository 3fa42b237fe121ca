"""Stage 1: datasets as tables, images as arrays, balanced sampling."""

from maskfer.data.images import IMAGE_EXTENSIONS, ImageError, content_hash, read_image
from maskfer.data.readers import COLUMNS, EMOTIONS, LAYOUTS, Dataset, DatasetError, Skipped, detect_layout, read_dataset
from maskfer.data.sampling import balanced_sample

__all__ = [
    "COLUMNS", "EMOTIONS", "IMAGE_EXTENSIONS", "LAYOUTS", "Dataset", "DatasetError", "ImageError", "Skipped",
    "balanced_sample", "content_hash", "detect_layout", "read_dataset", "read_image",
]
