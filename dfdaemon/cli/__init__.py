"""Command lines of the per-host daemon package (``dfget``)."""
