"""``core.tables.print_table``: the management commands' tables, plain off a terminal and styled on one."""

from io import StringIO

from django.core.management.base import OutputWrapper

from core.tables import print_table


class Terminal(StringIO):
    def isatty(self):
        return True


def test_off_a_terminal_it_is_plain_aligned_text_even_when_colour_is_forced(monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    out = StringIO()
    print_table(OutputWrapper(out), ("name", "value"), [("[bold]x[/bold] :smile:", 1), ("y", 22)], right={1})
    assert out.getvalue().splitlines() == ["name                    value",
                                           "[bold]x[/bold] :smile:      1",
                                           "y                          22"]


def test_a_long_row_stays_on_one_line_off_a_terminal():
    out = StringIO()
    print_table(OutputWrapper(out), ("why",), [("because " * 50,)])
    assert out.getvalue().splitlines() == ["why", ("because " * 50).rstrip()]


def test_on_a_terminal_the_header_is_bold(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")  # rich leaves a dumb terminal unstyled
    out = Terminal()
    print_table(OutputWrapper(out), ("name",), [("x",)])
    assert "\x1b[1m" in out.getvalue() and "x" in out.getvalue()
