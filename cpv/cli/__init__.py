"""The command line: parse, call the library, render (see ``render.py``)."""
