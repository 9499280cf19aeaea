"""Everything the command line prints: one console, plain layout, --json."""
