"""What Attune says on a crisis, and the final check on every generated reply.

The crisis replies are fixed templates written by the project following safe-messaging practice
(e.g. the US 988 Lifeline's and the Samaritans' media and messaging guidance): acknowledge and
thank, no lecture and no judgement, never minimise ("it's not that bad") and never mention
methods, say that help exists and name it (from the locale's resources table), encourage
reaching out now, and ask directly about safety. No LLM is involved, so nothing can go astray.

:func:`check_reply` is the output guard of the ``respond`` node: a reply that is harmful (see
:func:`agent.safety.patterns.harmful_reply_problem`), dismissive, or that leaks the system prompt
is replaced by :data:`SAFE_FALLBACK_REPLY`.
"""

from __future__ import annotations

import re

from agent.safety.patterns import harmful_reply_problem, normalise
from agent.safety.resources import LocaleResources
from attune.types import CrisisCategory, CrisisResource, ReplyProblem

#: Said instead of a generated reply that failed :func:`check_reply`.
SAFE_FALLBACK_REPLY = (
    "I want to be careful to get this right for you. I'm here and I'm listening. "
    "How are you feeling right now?"
)

_TEMPLATES: dict[CrisisCategory, str] = {
    "suicidal_ideation": (
        "I'm really glad you told me, and I'm so sorry you're in this much pain. You don't have "
        "to carry this alone: you can reach {line} right now, and if you might act on these "
        "thoughts, please call {emergency}. Are you safe right now?"
    ),
    "self_harm": (
        "Thank you for trusting me with this. You deserve care and support with what you're "
        "going through, and you don't have to face it alone: you can reach {line} right now, "
        "and if you are injured, please call {emergency}. Are you safe right now?"
    ),
    "harm_to_others": (
        "It sounds like you're carrying a lot of anger and pain right now, and I'm glad you "
        "said it out loud. If you feel you might hurt someone, please put some distance "
        "between you and them and reach out now: {line}. If anyone is in immediate danger, "
        "call {emergency}."
    ),
    "abuse_violence": (
        "I'm so sorry this is happening to you. It is not your fault, and you deserve to be "
        "safe. If you are in danger right now, please call {emergency}; {line} can also help, "
        "confidentially. Are you somewhere safe at the moment?"
    ),
    "medical_emergency": (
        "This sounds like it could be a medical emergency. Please call {emergency} right now, "
        "or ask someone nearby to call for you. {also}I'm here with you, but they can help in "
        "ways I can't."
    ),
}


def _describe(resource: CrisisResource) -> str:
    return f"{resource.name} ({resource.contact})"


def compose_safe_reply(category: CrisisCategory, table: LocaleResources) -> str:
    """The crisis reply for ``category`` with the locale's emergency number and first service."""
    services = [r for r in table.for_category(category) if r.name != "Emergency services"]
    specific = [r for r in services if r.categories]
    line = _describe(services[0]) if services else "someone you trust"
    also = f"You can also reach {_describe(specific[0])}. " if specific else ""
    return _TEMPLATES[category].format(line=line, emergency=table.emergency, also=also)


#: The check-in that ends the normal reply on the concern tier, by category. Safe-messaging
#: guidance: asking directly about suicide does not raise the risk, and it tells the person that
#: they can talk about it. ``{said}`` is how the person's words are referred to.
_CHECK_INS: dict[CrisisCategory, str] = {
    "suicidal_ideation": (
        "When {said}, I want to ask you directly, and it's okay to say: are you having "
        "thoughts of ending your life?"
    ),
    "self_harm": "Can I ask you gently: are you hurting yourself, or thinking about it?",
    "harm_to_others": (
        "Can I ask you something directly: are you worried you might act on these feelings "
        "and hurt someone?"
    ),
    "abuse_violence": "Can I ask: is anyone hurting you now, and are you safe where you are?",
    "medical_emergency": (
        "If you or someone with you needs urgent medical help, please call {emergency} now."
    ),
}
_SAID_DEFAULT = "you say things like this"


def compose_check_in(category: CrisisCategory, said: str | None, table: LocaleResources) -> str:
    """The check-in question for the concern tier; ``said`` names the risk indicator heard
    ("you feel like a burden" gives "When you say you feel like a burden, ...")."""
    phrase = f"you say {said}" if said else _SAID_DEFAULT
    return _CHECK_INS[category].format(said=phrase, emergency=table.emergency)


# --- the output guard ---------------------------------------------------------------------------

_LEAK_MARKERS = re.compile(
    r"\b(?:system prompt|my instructions|i was instructed|i've been instructed|i am instructed|"
    r"i was told to|my (?:guidelines|prompt) (?:say|says|tell))\b|"
    r"(?:^|\s)(?:this time|your goal)\s*:"
)
#: A reply sharing this many consecutive words with the system prompt is repeating it.
LEAK_NGRAM = 6


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", normalise(text))


def leaks_prompt(reply: str, system_prompt: str | None) -> bool:
    """Whether ``reply`` talks about its instructions or repeats a run of the system prompt."""
    if _LEAK_MARKERS.search(normalise(reply)):
        return True
    if not system_prompt:
        return False
    prompt = _words(system_prompt)
    grams = {tuple(prompt[i : i + LEAK_NGRAM]) for i in range(len(prompt) - LEAK_NGRAM + 1)}
    words = _words(reply)
    return any(
        tuple(words[i : i + LEAK_NGRAM]) in grams for i in range(len(words) - LEAK_NGRAM + 1)
    )


def check_reply(reply: str, system_prompt: str | None = None) -> ReplyProblem | None:
    """The first problem of a generated reply (harmful, dismissive, prompt leak), or ``None``."""
    problem = harmful_reply_problem(reply)
    if problem == "harmful":
        return "harmful"
    if problem == "dismissive":
        return "dismissive"
    if leaks_prompt(reply, system_prompt):
        return "prompt_leak"
    return None
