"""Training: the backbone warm-up (stage 1) and, later, the steering stages."""
