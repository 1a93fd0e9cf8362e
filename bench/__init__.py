"""Benchmarks of the hot path against its baselines (`make bench`, `make bench-quick`).

Every figure is a ratio against a baseline measured in the same process, interleaved run by
run, so that it holds on a noisy machine. `bench.run` orchestrates; each thread-count
configuration and each memory measurement runs in its own fresh `bench.worker` subprocess.
"""
