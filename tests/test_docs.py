"""The documents a user reads: links that resolve, the test command CI runs, figures that match the card."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = sorted([ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "MODEL_CARD.md", *(ROOT / "docs").rglob("*.md")])
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def relative_links(document: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", document.read_text(), flags=re.S)  # code blocks hold no links
    return [target for target in LINK.findall(text) if not re.match(r"[a-z]+:|#", target)]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(document):
    broken = [t for t in relative_links(document) if not (document.parent / t.split("#")[0]).exists()]
    assert not broken, f"{document.relative_to(ROOT)} links to missing files: {broken}"


def test_the_link_check_finds_a_broken_link(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("[here](missing.md) and [web](https://example.org) and [top](#top)\n```\n[not](a-link.md)\n```\n")
    assert relative_links(page) == ["missing.md"]


def test_ci_runs_the_readme_test_command():
    command = (ROOT / ".ci/run").read_text().strip().splitlines()[-1]
    blocks = re.findall(r"```bash\n(.*?)\n```", (ROOT / "README.md").read_text(), flags=re.S)
    assert command in blocks, "README's test command and .ci/run differ"


def test_the_readme_goals_table_is_the_model_cards():
    def goals(text: str) -> list[str]:
        lines = text.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("| goal | target | shipped |"))
        end = next(i for i in range(start, len(lines)) if not lines[i].startswith("|"))
        return lines[start:end]

    assert goals((ROOT / "README.md").read_text()) == goals((ROOT / "MODEL_CARD.md").read_text())
