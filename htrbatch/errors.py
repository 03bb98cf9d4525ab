"""One exception hierarchy for htrbatch.

Every message names the bad value and, where there is one, the file it came from, so that a user
reading stderr after a long batch knows what to fix.
"""

from __future__ import annotations

from pathlib import Path


class HtrError(Exception):
    """Base class of every error htrbatch raises on purpose."""


class InputError(HtrError):
    """An input file cannot be read or is not a usable image."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class OptionsError(HtrError):
    """Options that are invalid on their own or conflict with each other."""


class CheckpointError(HtrError):
    """A model checkpoint is missing, unreadable or has a bad field."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"checkpoint {self.path}: {reason}")


class DatasetError(HtrError):
    """A dataset folder has an unknown layout or bad entries."""


class LanguageModelError(HtrError):
    """A language model cannot be built or loaded."""


class OutputNameError(HtrError):
    """Two inputs of one batch would write the same output file (see htrbatch.outputs)."""

    SHOWN = 10

    def __init__(self, clashes: list[str]) -> None:
        self.clashes = list(clashes)
        shown = "; ".join(self.clashes[: self.SHOWN])
        more = len(self.clashes) - self.SHOWN
        if more > 0:
            shown += f"; and {more} more"
        n = len(self.clashes)
        super().__init__(
            f"{n} output name clash{'es' if n > 1 else ''}, nothing was done: {shown}. "
            "Outputs mirror each input folder's tree, so rename one file of each pair, or "
            "transcribe them in separate runs with different --out folders"
        )
