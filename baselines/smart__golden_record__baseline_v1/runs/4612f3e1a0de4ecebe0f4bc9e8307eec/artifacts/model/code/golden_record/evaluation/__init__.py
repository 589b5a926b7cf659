"""Quality against a ground truth: pair metrics and curves, bootstrap intervals."""
