"""The `maskfer` command, driven in-process."""

import json
import re

import pytest


from conftest import run, shared



def test_help_lists_every_stage():
    result = run("--help")
    assert result.exit_code == 0
    for command in ("data", "features", "evaluate", "sweep", "reproduce", "report", "models"):
        assert command in result.output


def test_data_info_counts_and_names_skipped_and_corrupt_files(kdef_like):
    (kdef_like / "KDEF" / "AM02" / "AM02NES.JPG").write_bytes(b"\xff\xd8\xff broken")
    result = run("data", "info", kdef_like)
    assert result.exit_code == 0, result.output
    assert "140 images" in result.output and "10 subjects" in result.output and "F01:14" in result.output
    assert "misnamed" in result.output and "AM02NES.JPG" in result.output
    assert "half_left" in result.output


@pytest.mark.parametrize("args, message", [
    (("data", "info", "/no/such/folder"), "no such file"),
    (("evaluate", "{data}", "--model", "resnet9000"), "unknown model 'resnet9000'; valid:"),
    (("evaluate", "{data}", "--protocol", "people"), "unknown protocol 'people'; valid:"),
    (("reproduce", "/no/such/folder"), "needs a labelled face-expression dataset"),
    (("reproduce", "{data}", "--models", "svm,nope"), "unknown model 'nope'"),
    (("report", "{data}/missing.json"), "not a readable results file"),
    (("reproduce", "{data}", "--models", "resnet18", "--weights", "{data}/none.pth", "--sweeps", "none",
      "--augment", "0", "--size", "32"), "weights file not found"),
    (("reproduce", "{data}", "--crop", "tight"), "unknown crop 'tight'; valid:"),
    (("quantize-model", "{data}/KDEF/AF01/AF01AFS.JPG", "--out", "{data}/q.onnx"), "AF01AFS.JPG"),
    (("quantize-model", "{data}/m.onnx", "--out", "{data}/q.onnx", "--method", "kl"), "unknown calibration method 'kl'; valid:"),
])
def test_bad_input_is_one_line_and_exit_2(kdef_like, args, message):
    result = run(*[a.format(data=kdef_like) for a in args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_quantize_model_refuses_the_shipped_model_which_is_already_int8(tmp_path):
    from maskfer.weights.format import MODEL_NAME, weights_path

    result = run("quantize-model", weights_path(MODEL_NAME), "--out", tmp_path / "q.onnx")
    assert result.exit_code == 2 and "already quantized" in result.output and not (tmp_path / "q.onnx").exists()


@pytest.mark.slow
def test_evaluate_writes_a_result_json(kdef_like, tmp_path):
    out = tmp_path / "result.json"
    result = run("evaluate", kdef_like, "--model", "random_forest", "--param", "n_estimators=7", "--size", "16",
                 "--protocol", "subject", "--out", out)
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    assert record["config"]["params"] == {"n_estimators": 7} and record["config"]["protocol"] == "subject"
    assert len(record["folds"]) == 5 and "subject" in result.output


def test_sample_writes_a_balanced_table(kdef_like, tmp_path):
    out = tmp_path / "sample.csv"
    result = run("data", "sample", kdef_like, "--sample", "28", "--out", out)
    assert result.exit_code == 0, result.output
    import pandas as pd

    table = pd.read_csv(out)
    assert len(table) == 28 and set(table.groupby(["emotion", "angle"]).size()) == {2}


def test_models_lists_the_registry():
    from maskfer.models import list_models

    result = run("models")
    assert all(name in result.output for name in list_models())


@pytest.mark.slow
def test_reproduce_quick_on_the_kdef_sample_writes_the_report(tmp_path):
    out = tmp_path / "report"
    result = run("reproduce", shared("kdef-sample"), "--quick", "--out", out, "--jobs", "2")
    assert result.exit_code == 0, result.output
    record = json.loads((out / "results.json").read_text())
    assert {r["config"]["protocol"] for r in record["models"]} == {"random", "subject"}
    assert {r["config"]["model"] for r in record["models"]} == {"naive_bayes", "logreg", "random_forest", "kmeans", "svm", "svm_poly"}
    assert {s["sweep"] for s in record["sweeps"]} == {"random_forest_trees", "kmeans_k", "kmeans_batch", "logreg_c", "svm_grid"}
    assert record["augmented"] and record["study"]["quick"] is True
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "<table>" in html and "subject" in html
    assert (out / "report.md").read_text().count("![") == len(list((out / "figures").glob("*.png")))
    sweep_folds = sum(len(s["points"]) * s["config"]["n_splits"] for s in record["sweeps"])
    assert f"its sweeps add {sweep_folds} more folds" in html  # the progress bar's total is explained
    from PIL import Image

    with Image.open(out / "figures" / "sweeps.png") as sweeps:  # two panels a row, so a page-wide figure stays legible
        assert sweeps.width <= 2 * sweeps.height * 1.6, sweeps.size
    # the report renders again from the results file alone
    again = run("report", out / "results.json", "--out", tmp_path / "again")
    assert again.exit_code == 0 and (tmp_path / "again" / "report.html").exists()


@pytest.mark.slow
def test_reproduce_on_a_synthetic_dataset_with_few_options(kdef_like, tmp_path):
    out = tmp_path / "r"
    result = run("reproduce", kdef_like, "--models", "naive_bayes,pca+svm", "--sweeps", "none", "--augment", "0",
                 "--protocols", "subject,source", "--size", "16", "--out", out)
    assert result.exit_code == 0, result.output
    record = json.loads((out / "results.json").read_text())
    assert len(record["models"]) == 4 and not record["sweeps"] and not record["augmented"]
    assert record["dataset"]["skipped"]  # the misnamed files are carried into the results
    assert re.search(r"folds 1\d/20 after \d+ s, about \d+ s left", result.output)  # a log gets lines with the time left
    page = (out / "report.html").read_text()
    assert "`" not in page.split("<pre>")[0] and "<code>subject</code>" in page  # Markdown's code spans become HTML's
    assert f"maskfer study report: {kdef_like.name}<" in page  # named after the folder given, not the layout
    assert "this run is on unmasked photos" in page and "MSE: the study&#x27;s mean squared error" in page
    assert "rows sum to 100" in page and "fit s/fold: seconds" in page
    fit = [row for row in page.split("<tr>") if row.startswith("<td>naive_bayes")][0].split("<td>")[-1]
    assert not fit.startswith("0.0<")  # a fast fit reads as its milliseconds, not 0.0


@pytest.mark.slow
def test_reproduce_with_masks_compares_masked_unmasked_and_held_out_types(tmp_path):
    import shutil

    source = shared("kdef-sample") / "KDEF"
    root = tmp_path / "data" / "KDEF"
    for folder in sorted(source.iterdir())[:30]:  # a smaller copy, made for this test only
        shutil.copytree(folder, root / folder.name)
    out = tmp_path / "r"
    result = run("reproduce", root.parent, "--masks", "surgical,black,sport", "--models", "naive_bayes,pca+logreg",
                 "--sweeps", "none", "--augment", "0", "--size", "32", "--out", out)
    assert result.exit_code == 0, result.output
    record = json.loads((out / "results.json").read_text())
    n_photos = record["masking"]["photos"]
    assert record["masking"]["pass_rate"] == 1.0 and record["dataset"]["n_used"] == 3 * n_photos
    assert {r["config"]["model"] for r in record["unmasked"]} == {"naive_bayes", "pca+logreg"}
    assert all(set(r["summary"]["val_accuracy_by_mask_type"]) == {"surgical", "black", "sport"} for r in record["models"])
    assert [r["config"]["protocol"] for r in record["held_out_masks"]] == ["mask_type"] * 2
    assert [r["config"]["protocol"] for r in record["held_out_renderers"]] == ["mask_renderer"] * 2
    assert all(set(r["summary"]["val_accuracy_by_mask_renderer"]) == {"drawn", "template"} for r in record["held_out_renderers"])
    report = (out / "report.md").read_text()
    assert "## Masked versus unmasked" in report and "## Held-out mask types" in report
    assert "## Held-out mask renderers" in report


def test_features_command_computes_then_reads_the_cache(kdef_like, tmp_path):
    first = run("features", kdef_like, "--size", "16", "--cache-dir", tmp_path / "cache")
    assert first.exit_code == 0, first.output
    assert "140 x 768 features" in first.output
    assert list((tmp_path / "cache" / "pixels").rglob("*.npz"))
    again = run("features", kdef_like, "--size", "16", "--cache-dir", tmp_path / "cache")
    assert again.output.split("key ")[1].split(",")[0] == first.output.split("key ")[1].split(",")[0]


@pytest.mark.slow
def test_reproduce_trains_a_cnn_and_draws_its_training_curves(kdef_like, tmp_path):
    out = tmp_path / "cnn"
    result = run("reproduce", kdef_like, "--models", "naive_bayes,resnet18_scratch", "--sweeps", "none",
                 "--augment", "0", "--protocols", "subject", "--folds", "2", "--size", "32", "--epochs", "2",
                 "--max-batches", "1", "--out", out)
    assert result.exit_code == 0, result.output
    record = json.loads((out / "results.json").read_text())
    cnn = next(r for r in record["models"] if r["config"]["model"] == "resnet18_scratch")
    assert cnn["config"]["params"] == {"device": "cpu", "epochs": 2, "max_batches": 1}  # the config is in the result
    assert len(cnn["summary"]["history"]) == 2
    assert "Training curves" in (out / "report.md").read_text() and (out / "figures" / "training_curves.png").exists()


def _commands():
    """Every (name, click command) of the CLI, sub-commands included."""
    import typer.main

    from maskfer.cli import app

    def walk(command, prefix):
        yield " ".join(prefix), command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, prefix + [name])

    return list(walk(typer.main.get_command(app), []))


@pytest.mark.parametrize("name, command", _commands(), ids=[n or "maskfer" for n, _ in _commands()])
def test_every_command_documents_every_option_one_way(name, command):
    result = run(*name.split(), "--help") if name else run("--help")
    assert result.exit_code == 0, result.output
    text = result.output
    assert "<bool>" not in text and "{" not in text and "list[" not in text  # no placeholders a user cannot type
    for param in command.params:
        if param.name == "help" or getattr(param, "hidden", False):
            continue
        assert param.help, f"{name} {param.opts}: no help"
        # every word of the help is shown: Rich would swallow a [bracketed] phrase as markup
        shown = " ".join(text.replace("│", " ").split())
        assert all(word in shown for word in param.help.split()), f"{name} {param.opts}: help text not shown whole"
        if param.param_type_name == "option" and not param.is_flag and not param.required and param.default is not None \
                and param.show_default is not False:
            assert any(opt in text for opt in param.opts), f"{name} {param.opts} missing from --help"
    assert "--sample-replace" not in text  # one spelling: --replace


def test_option_value_lists_in_help_match_the_registries():
    from maskfer.data.readers import LAYOUTS
    from maskfer.evaluation.protocols import PROTOCOLS
    from maskfer.evaluation.sweeps import SWEEPS
    from maskfer.masks import MASKS

    wide = {"COLUMNS": "400"}
    evaluate, predict, sweep = (run(c, "--help", env=wide).output for c in ("evaluate", "predict", "sweep"))
    assert all(p in evaluate for p in PROTOCOLS) and all(layout in evaluate for layout in LAYOUTS)
    assert all(kind in predict for kind in MASKS)
    assert all(s in sweep for s in SWEEPS)


def test_sweep_runs_on_a_balanced_sample_drawn_on_the_fly(kdef_like, tmp_path):
    out = tmp_path / "sweep.json"
    result = run("sweep", kdef_like, "random_forest_trees", "--quick", "--sample", "70", "--folds", "2", "--out", out, "-j", "1")
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    assert len(record["points"]) == 3
    for point in record["points"]:  # every sampled image is validated once: 70 in all, 10 of each class
        confusion = point["summary"]["val_confusion"]
        assert sum(map(sum, confusion)) == 70 and [sum(row) for row in confusion] == [10] * 7


def test_the_fast_svm_grid_runs_from_the_cli_and_keeps_the_study_grid(kdef_like, tmp_path):
    from maskfer.evaluation.sweeps import SWEEPS

    assert SWEEPS["svm_grid"][1] == SWEEPS["svm_grid_exact"][1] and SWEEPS["svm_grid_exact"][0] == "pca+svm"
    out = tmp_path / "grid.json"
    result = run("sweep", kdef_like, "svm_grid", "--quick", "--sample", "70", "--folds", "2", "--out", out, "-j", "1")
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    assert record["model"] == "pca+nystroem_svm" and len(record["points"]) == 8
    assert re.search(r"folds 16/16 after \d+ s", result.output)  # a log shows the sweep's progress too
    assert {p["params"]["kernel"] for p in record["points"]} == {"rbf", "poly"}
    assert record["protocol"] == "subject"  # auto: every KDEF image names its person


def test_auto_protocol_says_when_the_data_has_no_people_and_samples_keep_to_the_training_split(tmp_path):
    from conftest import face_like, save

    for split, n in (("train", 6), ("test", 3)):  # FER2013's folder layout: no person ids
        for label, cls in enumerate(("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")):
            for i in range(n):
                save(tmp_path / "fer" / split / cls / f"{split}_{i}.png", face_like(label, 10 * i + label)[:, :, 0], mode="L")
    out = tmp_path / "r.json"
    result = run("evaluate", tmp_path / "fer", "-m", "naive_bayes", "--folds", "2", "--out", out, "-j", "1")
    assert result.exit_code == 0, result.output
    assert "protocol is source" in result.stderr and json.loads(out.read_text())["config"]["protocol"] == "source"
    result = run("sweep", tmp_path / "fer", "logreg_c", "--quick", "--sample", "63", "--folds", "2", "--out", out, "-j", "1")
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    assert record["protocol"] == "source"
    assert sum(map(sum, record["points"][0]["summary"]["val_confusion"])) == 42  # all 42 training images (asked for 63), no test one


@pytest.mark.slow
def test_reproduce_status_says_which_folds_are_done_without_running_any(kdef_like, tmp_path):
    args = ("reproduce", kdef_like, "--models", "naive_bayes", "--sweeps", "none", "--augment", "0", "--protocols", "subject",
            "--size", "16", "--out", tmp_path / "r")
    wide = {"COLUMNS": "200"}
    before = run(*args, "--status", env=wide)
    assert before.exit_code == 0, before.output
    assert "0/5" in before.output and not (tmp_path / "r").exists()
    assert run(*args).exit_code == 0
    after = run(*args, "--status", env=wide)
    assert "5/5" in after.output and "naive_bayes subject" in after.output


def test_version_prints_the_package_version_and_stops():
    import maskfer
    from typer.testing import CliRunner

    from maskfer.cli import app

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"maskfer {maskfer.__version__}"


def test_reproduce_without_a_dataset_says_so_first_and_nothing_else():
    from typer.testing import CliRunner

    from maskfer.cli import app

    result = CliRunner().invoke(app, ["reproduce"])
    assert result.exit_code == 2
    assert result.output.startswith("error: no dataset given") and "reading the data" not in result.output
