"""Expression models side by side on the validation photos (never a test photo): what a change did.

    git show 99f3916:src/maskfer/weights/maskfer-expression.onnx > /tmp/float.onnx   # v2 before quantization
    python bench/validation_check.py "v2 float=/tmp/float.onnx" "v2 int8=src/maskfer/weights/maskfer-expression.onnx"
    python bench/validation_check.py v3=maskfer-model-v3/maskfer-expression.onnx \\
        "v3 one pass=maskfer-model-v3-one-pass/maskfer-expression.onnx"

Each argument is NAME=FILE.onnx; the first model is the reference, and its recipe names the validation photos:
those `train-default` scores every epoch (v3's: FER2013 PublicTest and the validation people of TCEP and CK+;
v4's: those and RAF-DB's validation share and AffectNet's `valid`; put v4 first to read v3 on v4's photos),
each seen unmasked, behind a drawn mask and under an occluder (the views of the first model's recipe),
and every model reads them cropped as its own recipe says (size, border). Prints, for each view and
in all: each model's accuracy and expected calibration error (15 bins), and for the others how often
their top answer is the reference's and the largest change of any probability; then each model's validation
figure (`maskfer.evaluation.metrics.validation_figure`) and its most over-answered class. Choices between
models (quantization, the mirror) are made on this table, so the test sets stay unseen.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import numpy as np


def named_model(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=FILE.onnx")
    return name, path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", type=named_model, help="NAME=FILE.onnx; the first is the reference")
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()

    from maskfer.evaluation.metrics import answer_shares, expected_calibration_error as calibration_error, validation_figure
    from maskfer.core.cache import Cache
    from maskfer.prediction.model import load_model
    from maskfer.training.recipe import DefaultModelConfig
    from maskfer.training.splits import training_table
    from maskfer.weights.format import quantization_of

    models = {name: load_model(path) for name, path in args.models}
    configs = {name: replace(DefaultModelConfig(**json.loads(m.metadata["config"])), data=args.data) for name, m in models.items()}
    reference, first = next(iter(configs)), next(iter(configs.values()))
    _, validation = training_table(first)
    print(f"validation: {len(validation)} photos")
    for name, model in models.items():
        config, quantized = configs[name], quantization_of(model.metadata)
        print(f"{name}: {config.size} px, border {config.border}, mirror averaged {config.flip_test}, "
              + (f"int8 ({quantized['method']}, {quantized['calibration_crops']} calibration crops)" if quantized else "float"))
    others = [name for name in models if name != reference]
    print("\n| view | photos | " + " | ".join(f"{n} accuracy % | {n} ECE" for n in models) + " | "
          + " | ".join(f"{n}: same top answer % | {n}: largest probability change" for n in others) + " |")
    print("|---|---|" + "---|---|" * len(models) + "---|---|" * len(others))
    rows = {}
    for view in first.views:
        rows[f"{view[0]} (seed {view[1]})"] = view_probabilities(models, configs, validation, view, Cache(), args.jobs)
    figures = {name: validation_figure(np.concatenate([row[name][1] for row in rows.values()]),
                                       np.concatenate([row[name][0].argmax(1) for row in rows.values()]),
                                       np.concatenate([row[name][2] for row in rows.values()]),
                                       np.concatenate([[view] * len(row[name][1]) for view, row in rows.items()]))
               for name in models}
    rows["all views"] = {name: tuple(np.concatenate([row[name][i] for row in rows.values()]) for i in range(3))
                         for name in models}
    for view, row in rows.items():
        p0, y, _ = row[reference]
        cells = [f"{100 * (p.argmax(1) == y).mean():.2f} | {calibration_error(p, y):.3f}" for p, y, _ in row.values()]
        cells += [f"{100 * (row[n][0].argmax(1) == p0.argmax(1)).mean():.1f} | {np.abs(row[n][0] - p0).max():.2f}" for n in others]
        print(f"| {view} | {len(y)} | " + " | ".join(cells) + " |", flush=True)
    print("\nthe validation figure (mean balanced accuracy over the (source, view) cells; docs/model-v4.md's rule):")
    for name, figure in figures.items():
        p, y, _ = rows["all views"][name]
        shares = answer_shares(y, p.argmax(1))
        print(f"  {name}: {100 * figure['figure']:.2f}%  (most over-answered: {shares['most_over_answered']} "
              f"{shares['largest_ratio']:.2f}x its share)")


def view_probabilities(models, configs, validation, view, cache, jobs) -> dict:
    """Each model's probabilities and the labels for one view, on the photos every model's crop found a face in."""
    from maskfer.training.recipe import crops_and_labels

    read = {}
    for name, model in models.items():
        config = configs[name]
        X, y, photos, _ = crops_and_labels(validation, config.size, (view,), cache, jobs, border=config.border)
        read[name] = (model.probabilities(X.reshape(len(X), config.size, config.size, 3)), y, photos)
    shared = read[next(iter(read))][2]
    for _, _, photos in read.values():
        shared = np.intersect1d(shared, photos)  # each in table order, so the rows stay aligned
    kept = {name: np.isin(photos, shared) for name, (_, _, photos) in read.items()}
    sources = validation["dataset"].to_numpy()[shared]
    return {name: (p[kept[name]], y[kept[name]], sources) for name, (p, y, _) in read.items()}


if __name__ == "__main__":
    main()
