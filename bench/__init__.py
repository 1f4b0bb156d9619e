"""Benchmarks: `python -m bench [--quick]`. They print figures; they pass or fail nothing."""
