"""Progress bars for management commands."""

from __future__ import annotations

from django.core.management import BaseCommand
from tqdm import tqdm


def progress_bar(command: BaseCommand, **options) -> tqdm:
    """A tqdm bar on the command's own stderr stream, and none when that stream is not a terminal.

    Not through ``command.stderr`` itself: Django's OutputWrapper paints whatever goes to stderr in the red error
    style and ends every write with a newline, so each redraw would be a red line of its own. A log file or a pipe
    gets no bar at all (tqdm's redraws there are noise, not progress).
    """
    stream = command.stderr._out
    return tqdm(file=stream, disable=not (hasattr(stream, "isatty") and stream.isatty()), **options)
