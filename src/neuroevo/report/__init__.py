"""Report: the Markdown report, its study and discovery sections, table cells and figures."""
