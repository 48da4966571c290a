"""Benchmarks of mizan-channels against the peers Django users would pick, run side by side
in one process tree and reported as ratios (see docs/performance.md; run `python -m bench`)."""
