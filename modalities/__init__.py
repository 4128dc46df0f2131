"""Perception and generation backends, one sub-package per modality.

Importing this package (or any ``base`` module in it) never imports a model runtime: backends load
their weights lazily, on first use or in an explicit ``load()``.
"""
