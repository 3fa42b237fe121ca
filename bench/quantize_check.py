"""What quantizing the expression model changed, on the validation photos of its recipe (never a test photo).

    git show 99f3916:src/maskfer/weights/maskfer-expression.onnx > /tmp/float.onnx   # v2 before quantization
    python bench/quantize_check.py --float /tmp/float.onnx [--int8 src/maskfer/weights/maskfer-expression.onnx]

The validation photos are those `train-default` scores every epoch (FER2013 PublicTest and the
validation people of TCEP and CK+), each seen unmasked, behind a drawn mask and under an occluder,
cropped as the recipe stored in the float model says. Prints, for each view and in all: accuracy of
both models, how often their top answers agree, the expected calibration error (15 bins) and the
largest change of any probability.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--float", dest="float_model", required=True, help="the model before quantization")
    parser.add_argument("--int8", dest="int8_model", default=None, help="the quantized model (default: the shipped one)")
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()

    from maskfer.card import expected_calibration_error as calibration_error
    from maskfer.core.cache import Cache
    from maskfer.prediction.model import load_model
    from maskfer.training.recipe import DefaultModelConfig, crops_and_labels, training_table
    from maskfer.weights.format import quantization_of

    before, after = load_model(args.float_model), load_model(args.int8_model)
    config = replace(DefaultModelConfig(**json.loads(before.metadata["config"])), data=args.data)
    _, validation = training_table(config)
    print(f"validation: {len(validation)} photos; int8 model: {quantization_of(after.metadata) or 'not quantized'}\n")
    print("| view | photos | float accuracy % | int8 accuracy % | same top answer % | float ECE | int8 ECE | largest probability change |")
    print("|---|---|---|---|---|---|---|---|")
    rows = {}
    for view in config.views:
        X, y, _ = crops_and_labels(validation, config.size, (view,), Cache(), args.jobs, border=config.border)
        crops = X.reshape(len(X), config.size, config.size, 3)
        rows[f"{view[0]} (seed {view[1]})"] = (before.probabilities(crops), after.probabilities(crops), y)
    rows["all views"] = tuple(np.concatenate(parts) for parts in zip(*rows.values()))
    for name, (p, q, y) in rows.items():
        print(f"| {name} | {len(y)} | {100 * (p.argmax(1) == y).mean():.2f} | {100 * (q.argmax(1) == y).mean():.2f} | "
              f"{100 * (p.argmax(1) == q.argmax(1)).mean():.1f} | {calibration_error(p, y):.3f} | {calibration_error(q, y):.3f} | "
              f"{np.abs(p - q).max():.2f} |", flush=True)


if __name__ == "__main__":
    main()
