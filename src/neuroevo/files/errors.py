"""Exceptions shared across the package."""

from __future__ import annotations


class CorruptFileError(ValueError):
    """A file on disk is damaged, incomplete or not what it should be.

    The message has the form "<path>: <what is wrong> (<detail>); <what to do>", so the one
    line the command line prints names the file and how to remake it.
    """
