"""Benchmarks: each module times convnotes side by side with its twin in one run.

Run one area with ``python -m benchmarks.<area>`` or all with ``python -m benchmarks``.
"""
