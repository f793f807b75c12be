"""Training recipes and evaluation protocols (EMO nets, image classifiers)."""
