"""The web app on top of prediction: `maskfer serve` (FastAPI), one page and a JSON API."""
