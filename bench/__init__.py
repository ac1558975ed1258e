"""Benchmarks (``python -m bench.<name>``): each runs its baseline in the same run and prints the
ratio. A benchmark is not a test; ``tests/bench`` only smoke-runs them for behaviour."""
