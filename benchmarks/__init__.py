"""Throughput and memory benchmarks: ``python -m benchmarks.<name> --help``."""
