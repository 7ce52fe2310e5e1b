"""Benchmarks that print figures (not tests). `python -m bench` runs every module here with a `main()`."""
