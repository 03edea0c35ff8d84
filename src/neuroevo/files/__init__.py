"""Files: atomic writes and folder locks, the data-only checkpoint codec, package versions, file errors.

Imported by every stage; imports no other stage."""
