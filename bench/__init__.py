"""Benchmarks: each script prints a table and writes its figures into docs/benchmarks.md."""
