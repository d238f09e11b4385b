"""Builders of tiny models and fixtures shared by tests, the demo and benchmarks."""
