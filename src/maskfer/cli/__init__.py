"""The `maskfer` command: each pipeline stage is a subcommand, grouped here by what it serves.

`common` holds the app and what the commands share; `study`, `product` and `training` register their
commands on it when imported (declarations only: nothing runs).
"""

from maskfer.cli import product, study, training  # noqa: F401  (each registers its commands on the app)
from maskfer.cli.common import app

__all__ = ["app"]
