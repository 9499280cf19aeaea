"""The comparison report: one self-contained HTML page, its charts."""
