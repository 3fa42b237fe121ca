"""Dataset readers: one folder (or CSV) in, one table out.

Every reader returns a `Dataset` whose table has one row per image with the columns in
`COLUMNS`: `emotion` is one of the study's seven classes, `subject` is the person (None where
the dataset does not say), `source` is the original photo (masked copies and augmentations of
one photo share it), and `split` is the dataset's own train/test split where it has one.
Files that cannot be used are not dropped silently: each lands in `Dataset.skipped` with why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from maskfer.core.images import IMAGE_EXTENSIONS
from maskfer.errors import MaskferError, check_name
from maskfer.labels import EMOTIONS

# The study's seven classes, in its order; the label index of each is its position here.
COLUMNS = ["path", "emotion", "subject", "dataset", "session", "gender", "angle", "source", "split"]

# Folder names that datasets use for each class. Contempt (CK+) is not one of the seven.
EMOTION_SYNONYMS = {
    "afraid": "afraid", "fear": "afraid", "fearful": "afraid", "scared": "afraid",
    "angry": "angry", "anger": "angry",
    "disgust": "disgusted", "disgusted": "disgusted",
    "happy": "happy", "happiness": "happy", "joy": "happy",
    "neutral": "neutral", "calm": "neutral",
    "sad": "sad", "sadness": "sad",
    "surprise": "surprised", "surprised": "surprised",
}
DROPPED_CLASSES = frozenset({"contempt"})
SPLIT_NAMES = {"train": "train", "training": "train", "test": "test", "val": "val", "valid": "val", "validation": "val"}

KDEF_CODES = {"AF": "afraid", "AN": "angry", "DI": "disgusted", "HA": "happy", "NE": "neutral", "SA": "sad", "SU": "surprised"}
KDEF_ANGLES = {"FL": "full_left", "HL": "half_left", "S": "straight", "HR": "half_right", "FR": "full_right"}
KDEF_NAME = re.compile(r"^([AB])([FM])(\d{2})(AF|AN|DI|HA|NE|SA|SU)(FL|HL|S|HR|FR)$")
KDEF_FOLDER = re.compile(r"^[AB][FM]\d{2}$", re.IGNORECASE)

TCEP_CODES = {"a": "neutral", "0": "neutral", "b": "happy", "c": "sad", "d": "angry", "e": "disgusted", "f": "afraid", "g": "surprised"}
TCEP_VIEWS = {"1": "straight", "2": "half", "3": "profile"}
TCEP_NAME = re.compile(r"^(\d{2})(\d)([123])([a-g0])(\d{2})$", re.IGNORECASE)

CKPLUS_SUBJECT = r"^(S\d+)_"
AFFECTNET_NAME = re.compile(r"^image\d+$", re.IGNORECASE)
FER_CSV_CLASSES = ("angry", "disgusted", "afraid", "happy", "sad", "surprised", "neutral")  # its 0..6
FER_CSV_SPLITS = {"Training": "train", "PublicTest": "public_test", "PrivateTest": "test"}


class DatasetError(MaskferError):
    """A path that is not a usable dataset."""


@dataclass
class Skipped:
    path: str
    reason: str


@dataclass
class Dataset:
    """A dataset as one table, plus what was skipped while reading it and why."""

    name: str
    layout: str
    root: Path
    table: pd.DataFrame
    skipped: list[Skipped] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.table)


def _row(path, emotion, *, dataset, subject=None, session=None, gender=None, angle=None, source=None, split=None):
    return {
        "path": str(path), "emotion": emotion, "subject": subject, "dataset": dataset, "session": session,
        "gender": gender, "angle": angle, "source": source if source is not None else str(path), "split": split,
    }


def _files(root: Path):
    """All files under root, sorted, hidden ones excluded."""
    return sorted(p for p in root.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts))


def _not_an_image(path: Path) -> Skipped:
    return Skipped(str(path), f"not an image file (extension {path.suffix or 'none'!r})")


def _table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS).astype(object)


def read_kdef(root: Path) -> Dataset:
    """KDEF in its release layout, `KDEF/AF01/AF01ANHL.JPG`: every field from the file name."""
    rows, skipped = [], []
    for path in _files(root):
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            skipped.append(_not_an_image(path))
            continue
        match = KDEF_NAME.match(path.stem.upper())
        if not match:
            skipped.append(Skipped(str(path), "misnamed: not SGNNEEA (session, gender, number, expression, angle)"))
            continue
        session, gender, number, code, angle = match.groups()
        if KDEF_FOLDER.match(path.parent.name) and path.parent.name.upper() != f"{session}{gender}{number}":
            skipped.append(Skipped(str(path), f"misnamed: file name does not match its folder {path.parent.name}"))
            continue
        rows.append(_row(path, KDEF_CODES[code], dataset="kdef", subject=f"{gender}{number}", session=session,
                         gender=gender, angle=KDEF_ANGLES[angle], source=path.stem.upper()))
    return Dataset("kdef", "kdef", root, _table(rows), skipped)


def read_tcep(root: Path) -> Dataset:
    """TCEP, `faces_256x256/PPTVeNN.jpg`: performer, performance type, view, expression, serial."""
    rows, skipped = [], []
    for path in _files(root):
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            skipped.append(_not_an_image(path))
            continue
        match = TCEP_NAME.match(path.stem)
        if not match:
            skipped.append(Skipped(str(path), "misnamed: not PPTVeNN (performer, type, view, expression, serial)"))
            continue
        performer, _ptype, view, code, _serial = match.groups()
        rows.append(_row(path, TCEP_CODES[code.lower()], dataset="tcep", subject=f"P{performer}",
                         angle=TCEP_VIEWS[view], source=path.stem.lower()))
    return Dataset("tcep", "tcep", root, _table(rows), skipped)


def read_class_folders(root: Path, subject_regex: str | None = None, name: str = "folders") -> Dataset:
    """Any class-per-folder layout (`<class>/<image>`, optionally under `train/`, `test/`).

    `subject_regex` is matched against each file name; its group named `subject`, or else its
    first group, is the subject id. Without it the subject is unknown.
    """
    pattern = re.compile(subject_regex) if subject_regex else None
    rows, skipped = [], []
    for path in _files(root):
        relative = path.relative_to(root).parts
        folders = [part.lower() for part in relative[:-1]]
        class_folder = next((f for f in reversed(folders) if f in EMOTION_SYNONYMS or f in DROPPED_CLASSES), None)
        if class_folder is None:
            skipped.append(Skipped(str(path), "not inside a class folder"))
            continue
        if class_folder in DROPPED_CLASSES:
            skipped.append(Skipped(str(path), f"class {class_folder!r} is not one of the seven"))
            continue
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            skipped.append(_not_an_image(path))
            continue
        subject = None
        if pattern is not None:
            match = pattern.search(path.name)
            if not match:
                skipped.append(Skipped(str(path), f"file name does not match the subject pattern {subject_regex!r}"))
                continue
            subject = match.groupdict().get("subject") or (match.group(1) if match.groups() else match.group(0))
        split = next((SPLIT_NAMES[f] for f in folders if f in SPLIT_NAMES), None)
        rows.append(_row(path, EMOTION_SYNONYMS[class_folder], dataset=name, subject=subject, split=split,
                         source=f"{split or ''}/{path.stem}"))
    return Dataset(name, "class_folders", root, _table(rows), skipped)


def read_ckplus(root: Path) -> Dataset:
    """CK+ folder-per-class, `anger/S010_004_00000019.png`; contempt is dropped and counted."""
    dataset = read_class_folders(root, subject_regex=CKPLUS_SUBJECT, name="ckplus")
    dataset.layout = "ckplus"
    return dataset


def read_fer2013(root: Path) -> Dataset:
    """FER2013 as folders, `train/<class>/*.jpg` and `test/<class>/*.jpg`; subjects unknown."""
    dataset = read_class_folders(root, name="fer2013")
    dataset.layout = "fer2013"
    return dataset


def read_fer2013_csv(root: Path) -> Dataset:
    """The original `fer2013.csv`: columns emotion (0..6), pixels (a string), Usage."""
    csv_path = root if root.is_file() else root / "fer2013.csv"
    try:
        frame = pd.read_csv(csv_path, usecols=["emotion", "Usage"])
    except ValueError as exc:
        raise DatasetError(f"{csv_path}: not a fer2013.csv ({exc})") from None
    rows, skipped = [], []
    for index, (label, usage) in enumerate(zip(frame["emotion"], frame["Usage"])):
        ref = f"{csv_path}#{index}"
        if not (isinstance(label, (int,)) or str(label).isdigit()) or not 0 <= int(label) < len(FER_CSV_CLASSES):
            skipped.append(Skipped(ref, f"emotion label {label!r} is not 0..6"))
            continue
        rows.append(_row(ref, FER_CSV_CLASSES[int(label)], dataset="fer2013",
                         split=FER_CSV_SPLITS.get(str(usage), str(usage)), source=f"fer2013#{index}"))
    return Dataset("fer2013", "fer2013_csv", csv_path, _table(rows), skipped)


def read_rafdb(root: Path) -> Dataset:
    """RAF-DB basic, `{train,test}/<class>/<name>_aligned.jpg`: the official split; subjects unknown (web photos)."""
    dataset = read_class_folders(root, name="rafdb")
    dataset.layout = "rafdb"
    return dataset


def read_affectnet(root: Path) -> Dataset:
    """The AffectNet subset, `{train,valid,test}/<class>/image<N>.jpg`; subjects unknown (web photos). Each row's
    `duplicate_of_train` says whether a byte-identical copy of it sits in `train/` (from `duplicates.csv`, when present):
    such a `valid`/`test` photo is no unseen photo and is left out when scoring."""
    dataset = read_class_folders(root, name="affectnet")
    dataset.layout = "affectnet"
    dataset.table["duplicate_of_train"] = affectnet_duplicates_of_train(dataset.table, root)
    return dataset


def affectnet_duplicates_of_train(table: pd.DataFrame, root: Path) -> np.ndarray:
    """True for each row outside `train` whose byte-identical copy (a `duplicates.csv` group) has a member in `train`."""
    csv = Path(root) / "duplicates.csv"
    if not csv.exists():
        return np.zeros(len(table), bool)
    groups = pd.read_csv(csv, usecols=["group", "path", "split"])
    in_train = set(groups.loc[groups["split"] == "train", "group"])
    copies = {str(Path(root) / p) for p, g in zip(groups["path"], groups["group"]) if g in in_train}
    return np.array([split != "train" and path in copies for path, split in zip(table["path"], table["split"])], bool)


LAYOUTS = {
    "kdef": read_kdef,
    "tcep": read_tcep,
    "ckplus": read_ckplus,
    "fer2013": read_fer2013,
    "fer2013_csv": read_fer2013_csv,
    "rafdb": read_rafdb,
    "affectnet": read_affectnet,
    "class_folders": read_class_folders,
}


def detect_layout(root: Path) -> str:
    """Name the layout of a dataset folder by looking at what is in it."""
    if root.is_file():
        if root.suffix.lower() == ".csv":
            return "fer2013_csv"
        raise DatasetError(f"{root}: a single file is not a dataset (give a folder or fer2013.csv)")
    files = _files(root)
    if not files:
        raise DatasetError(f"{root}: empty folder, no images found")
    names = [p.stem for p in files if p.suffix.lower() in IMAGE_EXTENSIONS]
    folders = {part.lower() for p in files for part in p.relative_to(root).parts[:-1]}
    if any(p.name.lower() == "fer2013.csv" for p in files) and not names:
        return "fer2013_csv"
    if names and sum(bool(KDEF_NAME.match(n.upper())) for n in names) > len(names) / 2:
        return "kdef"
    if names and sum(bool(TCEP_NAME.match(n)) for n in names) > len(names) / 2:
        return "tcep"
    if folders & set(EMOTION_SYNONYMS):
        if "contempt" in folders or sum(bool(re.match(CKPLUS_SUBJECT, n)) for n in names) > len(names) / 2:
            return "ckplus"
        if names and sum(n.lower().endswith("_aligned") for n in names) > len(names) / 2:
            return "rafdb"
        if {"train", "valid", "test"} <= folders and sum(bool(AFFECTNET_NAME.match(n)) for n in names) > len(names) / 2:
            return "affectnet"
        if {"train", "test"} <= folders:
            return "fer2013"
        return "class_folders"
    raise DatasetError(
        f"{root}: unknown layout ({len(files)} files, {len(names)} images); expected one of: "
        + ", ".join(LAYOUTS)
    )


def read_dataset(path: str | Path, layout: str = "auto", subject_regex: str | None = None) -> Dataset:
    """Read a dataset folder (or fer2013.csv) into one table, detecting its layout unless given."""
    root = Path(path).expanduser()
    if not root.exists():
        raise DatasetError(f"{root}: no such file or folder")
    if layout == "auto":
        layout = detect_layout(root)
    check_name("layout", layout, ["auto", *LAYOUTS])
    if layout == "class_folders" or (layout == "fer2013" and subject_regex):
        dataset = read_class_folders(root, subject_regex=subject_regex, name="fer2013" if layout == "fer2013" else root.name)
    else:
        dataset = LAYOUTS[layout](root)
    if dataset.table.empty:
        raise DatasetError(f"{root}: no usable images ({len(dataset.skipped)} files skipped, layout {layout})")
    return dataset


FERPLUS_VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear")  # the seven; not contempt, unknown, NF


def _ferplus_rows(table: pd.DataFrame, root: str | Path, columns: list[str]) -> pd.DataFrame:
    """`ferplus.csv`'s `columns` for each row of a FER2013 folder table (NaN where it has no row).

    Joined by (split, class folder, file name), since a file name alone is not unique in
    FER2013 (`ferplus.csv` beside the dataset, see ../shared/data/README.md).
    """
    csv = Path(root) / "ferplus.csv"
    try:
        votes = pd.read_csv(csv, usecols=["split", "folder", "name", *columns])
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{csv}: cannot read the FER+ labels ({exc})") from None
    paths = table["path"].map(Path)
    keys = pd.DataFrame({"split": [p.parent.parent.name for p in paths], "folder": [p.parent.name for p in paths],
                         "name": [p.name for p in paths]})
    joined = keys.merge(votes.drop_duplicates(["split", "folder", "name"]), on=["split", "folder", "name"], how="left")
    return joined[columns].set_index(table.index)


def ferplus_labels(table: pd.DataFrame, root: str | Path) -> pd.Series:
    """The FER+ majority class (one of the seven, or None) of each row of a FER2013 folder table."""
    majority = _ferplus_rows(table, root, ["ferplus_class"])["ferplus_class"]
    return pd.Series([None if pd.isna(c) else EMOTION_SYNONYMS[str(c)] for c in majority], index=table.index, dtype=object)


def ferplus_votes(table: pd.DataFrame, root: str | Path) -> np.ndarray:
    """FER+'s ten annotators' votes for the seven classes, (N, 7) in `EMOTIONS` order (NaN rows where FER+ has none)."""
    votes = _ferplus_rows(table, root, list(FERPLUS_VOTE_COLUMNS))
    return votes[[c for c in sorted(FERPLUS_VOTE_COLUMNS, key=lambda c: EMOTIONS.index(EMOTION_SYNONYMS[c]))]].to_numpy(float)
