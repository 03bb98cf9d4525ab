"""The ``htrbatch`` command line: thin Typer commands over the library.

Each sub-module registers its commands on ``app`` when it is imported, which happens when its
command runs (:class:`htrbatch.cli.app.LazyGroup`); nothing in the library imports this package.
"""

from __future__ import annotations

from htrbatch.cli.app import COMMANDS, app, load_command

__all__ = ["COMMANDS", "app", "load_command", "main"]


def main() -> None:
    app()
