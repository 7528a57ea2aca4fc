"""Evaluation of a finished run: held-out loss and perplexity, generation with task metrics, blind A/B.
Heavy libraries are imported inside the functions that need them."""
