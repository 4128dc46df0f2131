"""The talking-head avatar: reply audio -> a cue timeline -> frames -> video.

- :mod:`~modalities.avatar.cues`: :func:`build_cues` (lip sync, expression, blinks, head and
  gaze as plain data), :func:`expression_for`, :func:`concat_cues`.
- :mod:`~modalities.avatar.base`: the :class:`AvatarRenderer` interface, MP4 and PNG output.
- backends: ``portrait`` (a photo warped along its face mesh) and ``cartoon`` (drawn), created
  through :mod:`attune.registry` (role ``avatar``).

Importing this package is cheap (numpy and pydantic only).
"""

from modalities.avatar.cues import (
    AvatarCues,
    Expression,
    build_cues,
    concat_cues,
    expression_for,
)

__all__ = ["AvatarCues", "Expression", "build_cues", "concat_cues", "expression_for"]
