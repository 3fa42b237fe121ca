"""The model card's pieces that need no model run: the ablation table and the tight crops of the evaluation sets."""

import json

import numpy as np
import pandas as pd

from maskfer.card import ablation_table


def _row(lever, changes, accuracy, seconds=600.0):
    scores = {f"{split}{flip}": {"accuracy": accuracy, "lowest_recall": 0.1} for split in ("unmasked", "drawn", "template")
              for flip in ("", " +flip")}
    scores["unmasked"]["accuracy_ferplus"] = accuracy + 0.05
    return {"lever": lever, "changes": changes, "scores": scores, "history": [{"seconds": seconds / 2}] * 2}


def test_the_ablation_table_gives_each_lever_its_difference_from_the_recipe():
    text = ablation_table([_row("96 px input", {"size": 96}, 0.52, 1200), _row("v2 recipe", {}, 0.50)])
    lines = text.splitlines()
    assert lines[0].startswith("| lever | train min | unmasked % |") and len(lines) == 4
    assert lines[2].startswith("| 96 px input | 20 | 52.0 (+2.0) | 52.0 (+2.0) |")  # the base is the row that changes nothing
    assert "| 57.0 (+2.0) |" in lines[2] and lines[3].startswith("| v2 recipe | 10 | 50.0 | 50.0 |")


def test_tight_versions_cut_each_photo_to_its_face_and_keep_the_rest_of_the_row(tmp_path):
    from conftest import shared

    from maskfer.core.cache import Cache
    from maskfer.core.images import read_image
    from maskfer.data.readers import read_dataset
    from maskfer.card import tight_versions

    table = read_dataset(shared("kdef-sample")).table.head(3).reset_index(drop=True)
    tight = tight_versions(table, Cache(tmp_path / "cache"))
    assert len(tight) == 3 and list(tight["emotion"]) == list(table["emotion"])
    for before, after in zip(table["path"], tight["path"]):
        photo, cut = read_image(before), read_image(after)
        assert cut.shape[0] < 0.8 * photo.shape[0] and cut.shape[1] < 0.9 * photo.shape[1]  # the face fills the photo
    again = tight_versions(table, Cache(tmp_path / "cache"))
    assert list(again["path"]) == list(tight["path"])  # written once, read back
    assert isinstance(tight, pd.DataFrame) and np.all(tight.index == np.arange(3))


def test_the_committed_model_card_is_what_its_command_writes_from_the_committed_scores(tmp_path, monkeypatch):
    # MODEL_CARD.md is generated, never edited: rewriting it from bench/results/ gives the same file.
    from pathlib import Path

    from typer.testing import CliRunner

    from maskfer.cli import app

    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(root)
    out = tmp_path / "card.md"
    result = CliRunner().invoke(app, ["model-card", "--rewrite", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text() == (root / "MODEL_CARD.md").read_text()


def test_a_limited_look_never_overwrites_the_committed_card(tmp_path, monkeypatch):
    import json
    from pathlib import Path

    from typer.testing import CliRunner

    from maskfer.cli import app
    from maskfer import card

    root = Path(__file__).resolve().parents[1]
    kept = json.loads((root / "bench/results/model-card.json").read_text())
    monkeypatch.setattr(card, "evaluate_models", lambda config, *args, **kwargs: {**kept, "config": {"limit": config.limit}})
    monkeypatch.chdir(tmp_path)
    (tmp_path / "MODEL_CARD.md").write_text("committed card")
    (tmp_path / "bench/results").mkdir(parents=True)
    (tmp_path / "bench/results/model-card.json").write_text("{}")
    result = CliRunner().invoke(app, ["model-card", "--limit", "5", "--data", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "MODEL_CARD.md").read_text() == "committed card"
    assert (tmp_path / "bench/results/model-card.json").read_text() == "{}"
    look = tmp_path / "model-card-limit-5"
    assert (look / "MODEL_CARD.md").is_file() and json.loads((look / "model-card.json").read_text())["config"]["limit"] == 5


def test_the_card_names_the_recipe_that_remakes_the_model():
    from dataclasses import asdict

    from maskfer.training.recipe import RECIPES, recipe_command

    for name, recipe in RECIPES.items():
        config = {**asdict(recipe), "data": "/elsewhere", "threads": 1}  # where and how fast it ran do not count
        assert recipe_command(config) == f"--recipe {name}"
        assert recipe_command(json.loads(json.dumps(config))) == f"--recipe {name}"  # as a model file stores it
        assert recipe_command({**config, "flip_test": not recipe.flip_test}) == \
            f"--recipe {name} {'--no-mirror' if recipe.flip_test else '--mirror'}"
    assert recipe_command({**asdict(RECIPES["v3"]), "size": 80}) is None  # no recipe trains at 80 px
    older = {k: v for k, v in asdict(RECIPES["v2"]).items() if k != "border"}  # a config from before a field existed
    assert recipe_command(older) == "--recipe v2"
