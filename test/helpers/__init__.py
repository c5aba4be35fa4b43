"""Shared test helpers: repository paths, synthetic data builders and test nodes (``helpers/nodes``)."""
