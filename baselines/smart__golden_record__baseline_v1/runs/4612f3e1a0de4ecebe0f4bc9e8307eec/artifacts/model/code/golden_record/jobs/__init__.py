"""Thin jobs that orchestrate the library: train, sweep (golden records: golden.build.main)."""
