"""Evaluation: eval sets, metrics, reports."""
