"""The ``htrbatch`` command line: thin Typer commands over the library.

Each sub-module registers its commands on ``app``; nothing in the library imports this package.
"""

from __future__ import annotations

from htrbatch.cli import data as _data
from htrbatch.cli import evaluate as _evaluate  # noqa: F401  (registers the command)
from htrbatch.cli import lm as _lm
from htrbatch.cli import serve as _serve  # noqa: F401
from htrbatch.cli import train as _train  # noqa: F401
from htrbatch.cli import transcribe as _transcribe  # noqa: F401
from htrbatch.cli.app import app

app.add_typer(_data.app, name="data")
app.add_typer(_lm.app, name="lm")


def main() -> None:
    app()
