"""The one exception type maskfer raises for bad input; the CLI prints it as one line."""


class MaskferError(Exception):
    """A problem with the user's input, stated in one line that names the file or option."""


class InvalidValueError(MaskferError, ValueError):
    """An argument whose value or shape is outside what it accepts (a ValueError too, as scikit-learn expects)."""


class UnknownNameError(MaskferError, ValueError):
    """An option that must be one of a fixed set of names was something else."""

    def __init__(self, kind: str, name: str, valid):
        super().__init__(f"unknown {kind} {name!r}; valid: {', '.join(sorted(valid))}")


def check_name(kind: str, name: str, valid) -> str:
    """Return `name` if it is one of `valid`, else fail with the list of valid names."""
    if name not in valid:
        raise UnknownNameError(kind, name, valid)
    return name


def check_names(text: str, valid, kind: str, presets: dict | None = None) -> tuple[str, ...]:
    """A comma-separated option (`"logreg,svm"`) or a preset's name (`"all"`) as a tuple of valid names."""
    if presets and text in presets:
        return tuple(presets[text])
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    for name in names:
        check_name(kind, name, [*valid, *(presets or {})])
    return names
