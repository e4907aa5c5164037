"""Evaluation: ranking metrics, full-ranking leave-one-out evaluation, steering tasks."""
