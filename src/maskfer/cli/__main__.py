"""`python -m maskfer.cli`."""

from maskfer.cli import app

app()
