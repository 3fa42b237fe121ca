"""maskfer: facial expression recognition on masked faces.

Importing this package does nothing but define names: no model loading, no downloads,
no warning filters, no environment changes. Every stage lives in its own subpackage, each
importing only those below it: the layers are stated once, in `tests/test_layout.py`, which
checks the imports against them, and the README's layout table follows them (a test checks).
"""

__version__ = "0.1.0"

from maskfer.errors import MaskferError  # noqa: E402  (a plain exception class, free to import)

_API = ("detect", "predict", "apply_mask", "FaceResult")


def __getattr__(name: str):
    # The API is imported on first use (PEP 562), so `import maskfer` stays free of OpenCV and the face models.
    if name in _API:
        from maskfer.prediction import api

        return getattr(api, name)
    raise AttributeError(f"module 'maskfer' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_API})  # the lazily imported API is listed too (tab completion, help())


__all__ = ["FaceResult", "MaskferError", "__version__", "apply_mask", "detect", "predict"]
