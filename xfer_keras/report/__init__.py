"""Figures, panels and HTML reports built from result objects (never recomputing them)."""
