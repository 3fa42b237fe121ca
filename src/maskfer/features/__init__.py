"""Stage 2: pixels as the study computed them, augmentation, and the content-keyed cache."""

from maskfer.features.augment import AUGMENTATIONS, AugmentConfig, augment_image, augment_training_set
from maskfer.features.cache import Cache, default_cache_dir, stable_key
from maskfer.features.pixels import PixelConfig, image_to_pixels, imagenet_normalize, pixel_features

__all__ = [
    "AUGMENTATIONS", "AugmentConfig", "Cache", "PixelConfig", "augment_image", "augment_training_set",
    "default_cache_dir", "image_to_pixels", "imagenet_normalize", "pixel_features", "stable_key",
]
