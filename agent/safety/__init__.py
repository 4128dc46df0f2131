"""Care and safety: crisis detection, safe replies, the output guard and crisis resources.

- :class:`~agent.safety.detector.CrisisDetector`: the graded detector (none / concern /
  crisis) from direct-language patterns, risk indicators, an embedding classifier and the
  dialogue before the message; see ``detector.py`` for the method and its calibration.
- :func:`~agent.safety.evaluation.evaluate_conversations`: the detector on real dialogues.
- :func:`~agent.safety.replies.compose_safe_reply`, :func:`~agent.safety.replies.compose_check_in`
  and :func:`~agent.safety.replies.check_reply`: the crisis reply templates, the concern tier's
  check-in questions and the final check on generated replies.
- :func:`~agent.safety.resources.locale_resources`: the locale-keyed crisis resources table
  (``data/resources.toml`` by default; ``[safety] resources_path`` and ``locale`` to change it).

Importing this package loads no model; the classifier loads on first use.
"""

from agent.safety.detector import CrisisDetector
from agent.safety.replies import SAFE_FALLBACK_REPLY, check_reply, compose_safe_reply
from agent.safety.resources import LocaleResources, locale_resources

__all__ = [
    "SAFE_FALLBACK_REPLY",
    "CrisisDetector",
    "LocaleResources",
    "check_reply",
    "compose_safe_reply",
    "locale_resources",
]
