"""Serving: tokenizer, inference backends, item index, history store, pipeline. Never imports torch."""
