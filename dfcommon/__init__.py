"""Shared, Flask-free helpers used by every component: digests, piece math, task ids,
the error catalogue, config loading, logging, rates and the HTTP session factory."""
