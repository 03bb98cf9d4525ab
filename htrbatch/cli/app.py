"""The root Typer application and helpers shared by the commands."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import typer
import typer.main
from rich.console import Console
from rich.markup import escape
from rich.text import Text
from typer.core import TyperCommand, TyperGroup

from htrbatch import __version__

if TYPE_CHECKING:  # annotations only: typer >= 0.2x vendors click, older typer depends on it
    import click

# The commands, each in its module (imported when the command runs: torch and the pipeline
# only load for the commands that need them, so ``htrbatch --help`` and ``htrbatch data ...``
# start quickly), with the one-line help ``htrbatch --help`` shows before the module is
# imported (tests/test_cli.py checks that it equals the command's own help), in help order.
COMMANDS: dict[str, tuple[str, str]] = {
    "evaluate": (
        "htrbatch.cli.evaluate",
        "Corpus CER (total edits / total reference characters) and WER on a labelled line set.",
    ),
    "serve": (
        "htrbatch.cli.serve",
        "Serve an upload page (GET /) and an HTTP API (POST /api/transcribe, GET /health, /docs).",
    ),
    "train": (
        "htrbatch.cli.train",
        "Train the recogniser with CTC; keeps the checkpoint with the best validation CER.",
    ),
    "transcribe": (
        "htrbatch.cli.transcribe",
        "Transcribe handwritten page scans (PNG, JPEG, TIFF incl. multi-page, PDF) to text, "
        "JSON,\nALTO, PAGE XML, hOCR and searchable PDF.",
    ),
    "data": ("htrbatch.cli.data", "Make line and page datasets from IAM-OnDB strokes and fonts."),
    "lm": ("htrbatch.cli.lm", "Build word n-gram language models for beam decoding."),
}


def load_command(name: str) -> click.Command:
    """Import the module of command ``name`` (registering it on ``app``) and return it."""
    module = importlib.import_module(COMMANDS[name][0])
    sub = getattr(module, "app", None)
    if sub is not None and sub is not app and all(g.name != name for g in app.registered_groups):
        app.add_typer(sub, name=name)  # a command group (data, lm)
    return typer.main.get_group(app).commands[name]


class LazyGroup(TyperGroup):
    """The root group: a command's module is imported when the command is run (or its own
    help asked for); the root help lists every command from :data:`COMMANDS`."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name not in COMMANDS:
            return None
        short = COMMANDS[cmd_name][1]
        return TyperCommand(cmd_name, help=short, short_help=short)  # for the root help only

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] in COMMANDS and args[0] not in self.commands:
            self.commands[args[0]] = load_command(args[0])
        return super().resolve_command(ctx, args)


app = typer.Typer(
    cls=LazyGroup,
    name="htrbatch",
    help="Read handwriting in batches: page scans in, text and JSON out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Everything for people goes to stderr; stdout carries results only (e.g. --jsonl).
err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"htrbatch {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Read handwriting in batches: page scans in, text and JSON out."""


def fail(message: str, code: int = 2) -> None:
    """One-line error on stderr and exit: bad options or paths are usage errors (2)."""
    error_line(message)
    raise typer.Exit(code)


def note(message: str | None) -> None:
    """A one-line note on stderr (e.g. why --precision runs as something else); None: nothing."""
    if message:
        err_console.print(f"[yellow]note[/]: {escape(message)}", highlight=False, soft_wrap=True)


def literal(text: str) -> str:
    """``text`` with control and other unprintable characters escaped (a newline in a file name
    becomes ``\\n``), so one message is one line of stderr."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def error_line(message: str) -> None:
    """One ``error: <message>`` line on stderr, the message printed literally: no rich markup
    (a file named ``[red]x.png`` prints as named), control characters escaped, never wrapped."""
    err_console.print(
        Text.assemble(("error", "red"), ": ", literal(message)), highlight=False, soft_wrap=True
    )
