"""Rendering: sections to Markdown and CSV, the self-contained HTML pages, and the
helpers every figure shares."""
