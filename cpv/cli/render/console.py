"""The two consoles every line the CLI prints goes through (stdout and stderr), and what
makes them safe for text from outside."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.text import Text

from cpv.cli.render import layout as _layout
from cpv.domain.text import printable


class SafeConsole(Console):
    """A console that never lets text act as a terminal control: every character of the
    text it renders passes through :func:`cpv.domain.text.printable` (rich's own styles and cursor
    moves are not text, and stay), and no hyperlink (OSC 8) is written, whatever markup
    came in with the data. This is the one place every command's output goes
    through, whatever it prints (a tag message, an index's fields, a server's reply)."""

    def render(
        self, renderable: RenderableType, options: ConsoleOptions | None = None
    ) -> Iterator[Segment]:
        for segment in super().render(renderable, options):
            if segment.control or not segment.text:
                yield segment
                continue
            style = segment.style
            if style is not None and style.link:  # cpv prints no links: ``[link=…]`` was data
                style = style.update_link(None)
            safe = printable(segment.text)
            yield segment if (safe, style) == segment[:2] else Segment(safe, style)


class _Environ(Mapping[str, str]):
    """``os.environ`` as rich reads it, live, less a ``COLUMNS`` or ``LINES`` that is no plain
    number (rich's ``isdigit`` takes ``²``, then ``int`` fails: every command would crash)."""

    _SIZES = ("COLUMNS", "LINES")

    def __getitem__(self, key: str) -> str:
        value = os.environ[key]
        if key in self._SIZES and not (value.isascii() and value.isdecimal() and len(value) < 6):
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(os.environ)

    def __len__(self) -> int:
        return len(os.environ)


# NO_COLOR: no escape codes at all (rich alone would still print bold); off a terminal
# rich prints none either. Output is laid out by _layout, never wrapped or cut by rich.
# No emoji codes: ``:fire:`` in a message stays text.
_COLORS: Literal["auto"] | None = None if os.environ.get("NO_COLOR") else "auto"
_OPTIONS: dict[str, Any] = {
    "highlight": False,
    "soft_wrap": True,
    "color_system": _COLORS,
    "emoji": False,
    "_environ": _Environ(),
}
console = SafeConsole(**_OPTIONS)
err_console = SafeConsole(stderr=True, **_OPTIONS)


def emit_lines(lines: list[str], *, header: bool = False, style: str = "") -> None:
    """Lines already laid out: printed as they are (no markup, no wrapping by rich)."""
    if header and lines:
        console.print(Text(lines[0], style="bold"))
        lines = lines[1:]
    if lines:  # one print: rich's cost is per call (10,000 versions' lines in one)
        console.print(Text("\n".join(lines), style=style))


def say(text: str, *, style: str = "") -> None:
    """One logical line, wrapped between words to the terminal (continuations indented)."""
    emit_lines(_layout.hanging(text, _layout.width(), 4), style=style)
