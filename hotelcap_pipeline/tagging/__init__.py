"""CLIP embeddings, zero-shot tags for the visitors' vocabulary, tag statistics, k-modes clusters and search.

Plain functions and classes, no Dagster: the asset layer in ``hotelcap_pipeline.defs`` wires them.
"""
