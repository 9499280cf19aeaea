"""The two consoles every line the CLI prints goes through (stdout and stderr), and what
makes them safe for text from outside."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Literal

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment

from cpv.text import printable


class SafeConsole(Console):
    """A console that never lets text act as a terminal control: every character of the
    text it renders passes through :func:`cpv.text.printable` (rich's own styles and cursor
    moves are not text, and stay). This is the one place every command's output goes
    through, whatever it prints (a tag message, an index's fields, a server's reply)."""

    def render(
        self, renderable: RenderableType, options: ConsoleOptions | None = None
    ) -> Iterator[Segment]:
        for segment in super().render(renderable, options):
            if segment.control or not segment.text:
                yield segment
                continue
            safe = printable(segment.text)
            yield segment if safe == segment.text else Segment(safe, segment.style)


# NO_COLOR: no escape codes at all (rich alone would still print bold); off a terminal
# rich prints none either. Output is laid out by _layout, never wrapped or cut by rich.
# No emoji codes: ``:fire:`` in a message stays text.
_COLORS: Literal["auto"] | None = None if os.environ.get("NO_COLOR") else "auto"
console = SafeConsole(highlight=False, soft_wrap=True, color_system=_COLORS, emoji=False)
err_console = SafeConsole(
    stderr=True, highlight=False, soft_wrap=True, color_system=_COLORS, emoji=False
)
