"""The root Typer application and helpers shared by the commands."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from htrbatch import __version__

app = typer.Typer(
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
