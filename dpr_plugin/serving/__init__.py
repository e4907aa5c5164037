"""Serving: tokenizer, inference backends, item index, history store, pipeline (no torch)."""
