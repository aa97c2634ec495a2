"""Tables for management commands, drawn by rich on the command's own stdout."""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from io import StringIO

from django.core.management.base import OutputWrapper
from rich.console import Console
from rich.table import Table

# Off a terminal nothing wraps a row: a pipe, a file or a test gets one line per row, as grep and diff expect.
PLAIN_WIDTH = 10_000


def print_table(stdout: OutputWrapper, columns: Sequence[str], rows: Iterable[Sequence[object]], *,
                right: Container[int] = (), header: bool = True) -> None:
    """``rows`` in aligned ``columns`` (those whose index is in ``right`` right-aligned, for numbers).

    Through ``stdout`` (``self.stdout`` of a command), so ``call_command(stdout=...)`` captures it. On a terminal
    the header is bold and the table fits the window; anywhere else it is plain text (no escape codes even when
    FORCE_COLOR is set, no trailing blanks). Cells are text as given: never rich markup, emoji codes or highlighting.
    """
    terminal = stdout.isatty()
    table = Table(box=None, show_header=header, pad_edge=False, header_style="bold")
    for index, name in enumerate(columns):
        table.add_column(name, justify="right" if index in right else "left")
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    if terminal:
        _console(stdout, terminal=True).print(table)
        return
    # Drawn aside, then written without the padding rich leaves at the end of each line.
    console = _console(StringIO(), terminal=False)
    console.print(table)
    stdout.write("\n".join(line.rstrip() for line in console.file.getvalue().splitlines()))


def _console(file, *, terminal: bool) -> Console:
    return Console(file=file, force_terminal=terminal, width=None if terminal else PLAIN_WIDTH, markup=False,
                   emoji=False, highlight=False)
