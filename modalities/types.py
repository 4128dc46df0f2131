"""Where :mod:`attune.types` lived before the layers (0.1). Sessions stored then name this
module for their values, so it stays, re-exporting the stored types, for them to load
(``agent/sessions.py``). Import :mod:`attune.types` instead (``make lint`` refuses this one)."""

from attune.types import CHECKPOINT_TYPES

globals().update({cls.__name__: cls for cls in CHECKPOINT_TYPES})
