"""Thin jobs that orchestrate the library: train, sweep, golden, match-new, explain."""
