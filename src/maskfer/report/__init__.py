"""Stage 7: the study report (HTML and Markdown) from a results record."""

from maskfer.report.render import build_blocks, write_report

__all__ = ["build_blocks", "write_report"]
