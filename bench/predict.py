"""End-to-end prediction speed against `fer`, and the hard cases, on inputs made from a shipped photo.

    python bench/predict.py            # needs the peers of bench/_peers.py for the fer column

First the classifier alone: the median over 1,000 runs of one aligned face through ONNX Runtime.
Then end to end. Inputs are built from scikit-image's public-domain astronaut portrait: a 640x480 photo with one
face, the same with five faces, a 720p video (60 frames), and hard variants of the one-face photo
(a 48-pixel face, dark, overexposed, greyscale, tilted 30 degrees, masked). For each, maskfer's
`predict` (detection, landmarks, alignment, mask check, classification) and fer's
`detect_emotions` (Haar cascade, its TFLite model) run on the same decoded RGB arrays, with the
threads their runtimes choose (ONNX Runtime, LiteRT, OpenCV). Prints median
milliseconds per image and per face over `--repeat` runs, frames per second on the video (median of
`--video-passes` passes, the tools taking turns), the
ratio, and whether each tool found the face and what it read (the portrait smiles: happy).

Then a profile of one photo, stage by stage (decode, each detector, landmarks, alignment, mask
check, classifier, and what `predict` adds around them). Cold start comes first: `--cold` fresh Python processes each run `import maskfer` and a first
`maskfer.predict` on the one-face photo (models load on that first call); the median of each
part is printed, with the heavy packages the process had loaded by then. To compare with
another checkout, run this script with `PYTHONPATH=<that checkout>/src --cold-only`; to compare
with another expression model in the same run (e.g. the float model before `maskfer
quantize-model`), add `--compare-model FILE.onnx`: it becomes one more tool in the tables.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

import maskfer


def head() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[20:260, 130:330])


def scene(face_widths: list[int], size=(640, 480), background=170) -> np.ndarray:
    width, height = size
    canvas = np.full((height, width, 3), background, np.uint8)
    x, y, row = 10, 10, 0
    for w in face_widths:
        h = int(1.2 * w)
        if x + w > width:
            x, y = 10, y + row + 10
        canvas[y:y + h, x:x + w] = cv2.resize(head(), (w, h), interpolation=cv2.INTER_AREA)
        x, row = x + w + 10, max(row, h)
    return canvas


def hard_cases() -> dict[str, np.ndarray]:
    one = scene([260])
    gamma = lambda image, g: np.clip(255 * (image / 255.0) ** g, 0, 255).astype(np.uint8)
    tilt = cv2.warpAffine(one, cv2.getRotationMatrix2D((140, 160), 30, 1.0), (640, 480), borderValue=(170, 170, 170))
    return {
        "one face (about 120 px)": one,
        "small face (48 px wide face)": scene([100]),
        "dark (gamma 3)": gamma(one, 3.0),
        "overexposed (gamma 0.3)": gamma(one, 0.3),
        "greyscale": np.repeat(cv2.cvtColor(one, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2),
        "tilted 30 degrees": tilt,
        "masked (surgical)": maskfer.apply_mask(one, "surgical"),
        "five faces": scene([150] * 5),
    }


COLD_START = """
import sys, time
start = time.perf_counter()
import maskfer
imported = time.perf_counter()
faces = maskfer.predict(sys.argv[1])
done = time.perf_counter()
heavy = [m for m in ("sklearn", "pandas", "torch", "scipy", "matplotlib") if m in sys.modules]
print(__import__("json").dumps({"import": imported - start, "first": done - imported, "faces": len(faces), "heavy": heavy}))
"""


def cold_start(runs: int) -> None:
    """Median seconds of `import maskfer` and of the first `predict` call, each in a fresh process."""
    with tempfile.TemporaryDirectory() as folder:
        photo = Path(folder) / "one-face.png"
        cv2.imwrite(str(photo), cv2.cvtColor(scene([260]), cv2.COLOR_RGB2BGR))
        results = [json.loads(subprocess.run([sys.executable, "-c", COLD_START, str(photo)], capture_output=True, text=True,
                                             check=True).stdout.strip().splitlines()[-1]) for _ in range(runs)]
    imports = statistics.median(r["import"] for r in results)
    first = statistics.median(r["first"] for r in results)
    print(f"cold start ({runs} fresh processes, {maskfer.__file__}): import maskfer {1000 * imports:.0f} ms, first predict "
          f"{1000 * first:.0f} ms, together {1000 * (imports + first):.0f} ms (median); faces found {results[0]['faces']}; "
          f"heavy packages loaded: {', '.join(results[0]['heavy']) or 'none'}\n", flush=True)


def timed(function, image, repeat: int) -> tuple[float, object]:
    result = function(image)  # warm up: first call loads models
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function(image)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times), result


def stage_profile(image: np.ndarray, repeat: int) -> None:
    """Median ms of each stage of `maskfer.predict` on one photo, each run alone as predict runs it."""
    from maskfer.faces import aligned_crop, find_faces
    from maskfer.faces.detection import DETECTORS, detect
    from maskfer.prediction.model import load_mask_check, load_model

    model, check = load_model(), load_mask_check()
    png = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))[1].tobytes()
    faces = find_faces(image)
    crops = np.stack([aligned_crop(image, f, model.size, model.border) for f in faces])
    check_crops = np.stack([aligned_crop(image, f, check.size, check.border) for f in faces])  # its own crop, as predict
    stages = {"decode (PNG bytes to RGB)": lambda: cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR),
                                                                  cv2.COLOR_BGR2RGB)}
    stages.update({f"detection, {name.replace('_', '-')}": (lambda name=name: detect(image, name)) for name in DETECTORS})
    stages["find_faces (detection + landmarks)"] = lambda: find_faces(image)
    stages["alignment (each model's crop)"] = lambda: [aligned_crop(image, f, m.size, m.border) for f in faces
                                                       for m in {(model.size, model.border): model, (check.size, check.border): check}.values()]
    stages["mask-worn check"] = lambda: check.probability(check_crops)
    stages["classifier"] = lambda: model.probabilities(crops)
    stages["maskfer.predict, end to end"] = lambda: maskfer.predict(image)
    print(f"| stage ({len(faces)} face, {image.shape[1]}x{image.shape[0]}) | median ms |")
    print("|---|---|")
    medians = {name: timed(lambda _: run(), None, repeat)[0] for name, run in stages.items()}
    for name, ms in medians.items():
        print(f"| {name} | {ms:.2f} |")
    detection = sum(ms for name, ms in medians.items() if name.startswith("detection,"))
    print(f"| landmarks (find_faces less detection) | {medians['find_faces (detection + landmarks)'] - detection:.2f} |")
    parts = medians["find_faces (detection + landmarks)"] + sum(medians[k] for k in ("alignment (each model's crop)",
                                                                                      "mask-worn check", "classifier"))
    print(f"| the rest (predict less its parts) | {medians['maskfer.predict, end to end'] - parts:.2f} |\n", flush=True)


def classifier_alone() -> None:
    """One aligned face through ONNX Runtime (issue 5's figure), and the mask-worn check beside it."""
    from maskfer.prediction.model import load_mask_check, load_model

    model, check = load_model(), load_mask_check()
    crop, check_crop = (np.ascontiguousarray(cv2.resize(head()[30:230], (m.size, m.size)))[None] for m in (model, check))
    classify_ms, _ = timed(model.probabilities, crop, 1000)
    mask_ms, _ = timed(check.probability, check_crop, 1000)
    print(f"one aligned {model.size}x{model.size} face through ONNX Runtime: {classify_ms:.2f} ms median of 1,000 "
          f"(mask-worn check: {mask_ms:.2f} ms)\n")


def image_tools(compare_model: str | None) -> dict:
    """Each tool as `image -> faces' readings`: maskfer, the other model if given, and fer where installed."""
    tools = {"maskfer": lambda image: [f.probabilities for f in maskfer.predict(image)]}
    if compare_model:
        tools[f"maskfer ({Path(compare_model).name})"] = lambda image: [f.probabilities for f in
                                                                       maskfer.predict(image, model=compare_model)]
    try:
        sys.path.insert(0, str(Path(__file__).parent))
        from _peers import Fer

        fer = Fer()
        tools["fer"] = lambda image: fer.predict(image)
    except ImportError as exc:
        print(f"fer not installed ({exc}); maskfer alone")
    return tools


def still_images(tools: dict, repeat: int) -> None:
    from maskfer.labels import EMOTIONS

    print("| input | faces | " + " | ".join(f"{t} ms/image | {t} ms/face | {t} found, reads" for t in tools) + " |")
    print("|---|---|" + "---|---|---|" * len(tools))
    for name, image in hard_cases().items():
        cells = []
        for tool, function in tools.items():
            ms, faces = timed(function, image, repeat)
            reads = ", ".join(
                (max(f, key=f.get) if isinstance(f, dict) else EMOTIONS[int(np.argmax(f))]) for f in faces[:5]) or "-"
            cells += [f"{ms:.1f}", f"{ms / max(1, len(faces)):.1f}", f"{len(faces)}: {reads}"]
        expected = 5 if "five" in name else 1
        print(f"| {name} | {expected} | " + " | ".join(cells) + " |", flush=True)


def video(tools: dict, compare_model: str | None, passes: int) -> None:
    """720p video: 60 frames of a five-face scene drifting sideways, decoded once, then every frame read."""
    from maskfer.prediction.api import read_faces
    from maskfer.prediction.tracking import FaceTracker

    frames = [np.roll(scene([220, 220, 220, 220, 220], (1280, 720)), 4 * i, axis=1) for i in range(60)]
    print("\n| 720p video, 60 frames of 5 faces | frames/s | faces/frame | faces/s |")
    print("|---|---|---|---|")

    def followed(frames, model=None):  # what `predict` does in a video: faces followed, detected every 10th frame
        tracker = FaceTracker()  # frames 1/30 s apart, as a 30 fps video's
        return [read_faces(frame, faces=[face for _, face in tracker.faces(frame, k / 30)], model=model)[1]
                for k, frame in enumerate(frames)]

    video_tools = {"maskfer, faces followed (predict on a video)": lambda frames: [len(f) for f in followed(frames)],
                   **({f"maskfer ({Path(compare_model).name}), faces followed":
                       lambda frames: [len(f) for f in followed(frames, compare_model)]} if compare_model else {}),
                   **{f"{tool}, every frame alone": (lambda frames, f=function: [len(f(x)) for x in frames])
                      for tool, function in tools.items()}}
    seconds, found = {tool: [] for tool in video_tools}, {}
    for tool, function in video_tools.items():
        function(frames[:2])
    for _ in range(passes):  # passes of the tools in turn, so a slow spell of the machine hits them all
        for tool, function in video_tools.items():
            start = time.perf_counter()
            found[tool] = function(frames)
            seconds[tool].append(time.perf_counter() - start)
    for tool in video_tools:
        pass_seconds = statistics.median(seconds[tool])
        print(f"| {tool} | {len(frames) / pass_seconds:.1f} | {statistics.median(found[tool]):.0f} | "
              f"{sum(found[tool]) / pass_seconds:.0f} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--video-passes", type=int, default=5, help="passes over the video per tool (median)")
    parser.add_argument("--cold", type=int, default=5, help="fresh processes for the cold-start figure")
    parser.add_argument("--cold-only", action="store_true", help="print the cold-start figure and stop")
    parser.add_argument("--compare-model", help="another expression model (ONNX), run as one more tool beside the shipped one")
    args = parser.parse_args()
    cold_start(args.cold)
    if args.cold_only:
        return
    stage_profile(scene([260]), max(args.repeat, 100))
    classifier_alone()
    tools = image_tools(args.compare_model)
    still_images(tools, args.repeat)
    video(tools, args.compare_model, args.video_passes)

if __name__ == "__main__":
    main()
