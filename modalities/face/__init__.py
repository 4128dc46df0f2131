"""Face perception: read the expression of the largest face in an image or camera frame.

:class:`~modalities.face.base.FaceAnalyzer` is the interface; backends (``tflite``, ``onnx``)
share one pipeline (:mod:`modalities.face.pipeline`): BlazeFace detection
(:mod:`~modalities.face.blazeface`), the 468-point mesh and its geometric cues
(:mod:`~modalities.face.mesh`), an expression classifier, and the reading
(:mod:`~modalities.face.expression`). :class:`~modalities.face.tracker.FaceTracker` smooths
camera frames. Importing this package loads no model and imports no model runtime.
"""

from modalities.face.base import FaceAnalyzer, FaceMesh
from modalities.face.image import load_image
from modalities.face.tracker import FaceTracker

__all__ = ["FaceAnalyzer", "FaceMesh", "FaceTracker", "load_image"]
