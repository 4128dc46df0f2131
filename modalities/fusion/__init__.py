"""Fusion of the modalities' affect readings into one :class:`~attune.types.FusedAffect`.

:func:`fuse_affect` (method in :mod:`modalities.fusion.fuse`); label mappings in
:mod:`modalities.fusion.labels`. Pure numpy: no model, no runtime.
"""

from modalities.fusion.fuse import fuse_affect

__all__ = ["fuse_affect"]
