"""Stage 4: pixels as the study computed them, and the study's six augmentations."""

from maskfer.features.augment import AUGMENTATIONS, AugmentConfig, augment_image, augment_training_set
from maskfer.features.pixels import Features, PixelConfig, image_to_pixels, imagenet_normalize, pixel_features, table_features

__all__ = [
    "AUGMENTATIONS", "AugmentConfig", "Features", "PixelConfig", "augment_image", "augment_training_set", "image_to_pixels",
    "imagenet_normalize", "pixel_features", "table_features",
]
