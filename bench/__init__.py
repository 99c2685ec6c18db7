"""Benchmarks: each module prints numbers and writes JSON to bench/out/ (not pass/fail)."""
