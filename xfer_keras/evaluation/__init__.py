"""Figures and choices on dev sets: CK+ dev faces, capture shifts, Grad-CAM localisation, FACS
agreement, the rule that picks a model's settings. Never imported by the explain path."""
