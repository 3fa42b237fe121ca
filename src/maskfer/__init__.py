"""maskfer: facial expression recognition on masked faces.

Importing this package does nothing but define names: no model loading, no downloads,
no warning filters, no environment changes. Every stage lives in its own subpackage:
data -> features -> models -> evaluation -> report.
"""

__version__ = "0.1.0"

from maskfer.errors import MaskferError  # noqa: E402  (a plain exception class, free to import)

__all__ = ["MaskferError", "__version__"]
