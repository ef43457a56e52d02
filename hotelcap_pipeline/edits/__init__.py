"""Diffusion edit series: pick the most different photos, change one condition each, score every edit.

selection (farthest-point sampling) -> series (assets/edit_series.yaml) -> pipeline (diffusers, loaded
once) -> render (strength sweep, scores, cache) ; portrait (the visitor, text-to-image).
"""
