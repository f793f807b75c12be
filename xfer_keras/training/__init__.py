"""Training recipes: the image model, the EMO protocol and recipe, tuning, the pruning
experiment, metrics. Never imported by the explain path."""
