"""Patterns for direct crisis language, the high-precision half of the hybrid detector.

Each pattern belongs to one crisis category and is matched sentence by sentence on normalised
text (lower case, straight apostrophes, single spaces). Most are anchored on the first person
("I want to die", "he hits me"), so reports about others, fiction and news rarely match; an
``unless`` expression in the same sentence cancels a match (accidents: "I cut myself shaving";
hyperbole: "want to die of embarrassment"). Indirect language is left to the embedding
classifier. The patterns were written against the example bank (``data/crisis_examples.jsonl``),
never against the evaluation set.

:func:`harmful_reply_problem` holds the patterns of the output guard: a generated reply that
encourages harm, gives method details or dismisses the person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from modalities.types import CrisisCategory

_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
_PEOPLE = (
    r"(?:husband|wife|partner|boyfriend|girlfriend|bf|gf|ex|boss|manager|dad|father|mum|mom|"
    r"mother|step-?dad|step-?father|step-?mum|step-?mom|step-?mother|brother|sister|son|"
    r"daughter|uncle|aunt|cousin|grandpa|grandfather|teacher|coach|carer|caregiver|"
    r"roommate|flatmate|neighbou?r|landlord|friend|classmates?|coworkers?|colleagues?|"
    r"family|kids?|child|children|baby|toddler|parents?)"
)
_ME = r"(?:i|i'm|i am|im|i've|i have|i'll|i will|i'd)"
_JOKE = r"\b(?:haha+|lol|lmao|jk|joking|kidding)\b|😂|🤣"


def normalise(text: str) -> str:
    """Lower case, straight apostrophes and quotes, single spaces."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"')
    text = text.replace("\u201d", '"')
    return re.sub(r"[ \t]+", " ", text.lower()).strip()


def sentences(text: str) -> list[str]:
    """Split normalised text into sentences (on ``. ! ? ;`` and line breaks)."""
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


@dataclass(frozen=True)
class CrisisPattern:
    """One direct-language pattern; ``unless`` in the same sentence cancels it."""

    category: CrisisCategory
    regex: re.Pattern[str]
    unless: re.Pattern[str] | None = None

    def matches(self, sentence: str) -> bool:
        """Whether this pattern fires on one normalised sentence."""
        if not self.regex.search(sentence):
            return False
        return not (self.unless is not None and self.unless.search(sentence))


def _p(category: CrisisCategory, regex: str, unless: str | None = None) -> CrisisPattern:
    return CrisisPattern(category, re.compile(regex), re.compile(unless) if unless else None)


_ACCIDENT = (
    r"\b(?:shaving|accident(?:ally)?|by mistake|cooking|chopping|slicing|baking|ironing|"
    r"at the gym|playing|skiing|skating|climbing|running|training|football|soccer|rugby|"
    r"on the (?:oven|stove|pan|kettle|iron)|with the (?:oven|stove|pan|kettle|iron)|"
    r"doing (?:diy|the dishes))\b"
)
_DIE_IDIOM = (
    r"\b(?:die|died|dying) (?:of|from) (?:embarrassment|shame|boredom|laughter|laughing|cuteness)"
    r"|\b(?:die|dying) laughing|\bdying to\b|\bto die for\b"
)

#: Direct crisis language, by category.
PATTERNS: tuple[CrisisPattern, ...] = (
    # --- suicidal ideation ---
    _p(
        "suicidal_ideation",
        r"\b(?:kill|killing|hang|hanging|drown|drowning|shoot|shooting)\s+my\s?self\b",
    ),
    _p("suicidal_ideation", r"\b(?:end|ending|take|taking|took)\s+my\s+(?:own\s+)?life\b"),
    _p("suicidal_ideation", rf"\b{_ME}\b[^.!?]{{0,30}}\bsuicidal\b"),
    _p("suicidal_ideation", r"\bsuicidal\s+(?:thoughts?|feelings?|ideation|urges?|again)\b"),
    _p(
        "suicidal_ideation",
        r"\b(?:commit|committing|considering|contemplating|thinking (?:about|of)|"
        r"thought (?:about|of)|plan(?:ning)?|decided on)\s+suicide\b",
    ),
    _p("suicidal_ideation", r"\b(?:my|a|the)\s+suicide\s+(?:note|letter|plan)\b"),
    _p(
        "suicidal_ideation", r"\bi\s+(?:have\s+|'ve\s+)?(?:attempted|tried)\s+(?:suicide|to\s+kill)"
    ),
    _p(
        "suicidal_ideation",
        r"\b(?:i|i'm|i am|im)\s+(?:just\s+|really\s+|honestly\s+|only\s+|kind of\s+|"
        r"sometimes\s+|so\s+)?(?:want|wanna|wanted|wish|need|ready|going|gonna|plan|planning|"
        r"about)\s+(?:to\s+)?die\b",
        unless=_DIE_IDIOM,
    ),
    _p("suicidal_ideation", r"\bwish\s+i\s+(?:was|were|'d be)\s+dead\b"),
    _p("suicidal_ideation", r"\b(?:i'd|i would|i'll|i will|i'm|i am|be)\s+better off dead\b"),
    _p(
        "suicidal_ideation",
        r"\b(?:don't|do not|dont|no longer|never)\s+(?:really\s+)?want\s+to\s+"
        r"(?:live|be alive|exist|be here anymore|wake up)\b",
    ),
    _p(
        "suicidal_ideation",
        r"\b(?:no|nothing (?:left )?to|no point|no reason)\s*(?:reason\s+)?(?:to|in|for)\s+"
        r"(?:live|living|go(?:ing)? on|carry(?:ing)? on|be(?:ing)? alive|stay(?:ing)? alive)\b",
    ),
    _p("suicidal_ideation", r"\bnot worth living\b|\bnothing (?:left )?to live for\b"),
    _p("suicidal_ideation", r"\b(?:better off|happier|be better)\s+without me\b"),
    _p("suicidal_ideation", r"\bend(?:ing)? it all\b|\bend it (?:tonight|today|now|soon)\b"),
    _p("suicidal_ideation", r"\b(?:sleep|fall asleep|go to sleep)\b[^.!?]{0,25}\bnever wake up\b"),
    _p("suicidal_ideation", r"\bhow many (?:pills|tablets)\b[^.!?]{0,30}\b(?:take|kill|die|need)"),
    _p(
        "suicidal_ideation",
        r"\b(?:ways|how)\s+to\s+(?:kill myself|die|end my life|commit suicide|"
        r"end it|do it painlessly)\b",
    ),
    _p("suicidal_ideation", r"\bwhen i'm gone\b|\bafter i'm gone\b|\bonce i'm gone\b"),
    # --- self-harm ---
    _p(
        "self_harm",
        r"\b(?:cut|cutting|cuts|burn|burning|burned|burnt|harm|harming|harmed|injure|injuring|"
        r"injured|punish|punishing|scratch|scratching|starve|starving|bruise|bruising)\s+my\s?self\b",
        unless=_ACCIDENT,
    ),
    _p(
        "self_harm",
        r"\b(?:hurt|hurting|hit|hitting|punch|punching|punched)\s+my\s?self\b"
        r"(?!\s+(?:in|at|while|when|during|on)\s+(?:the\s+)?(?:gym|practice|training|game|match))",
        unless=_ACCIDENT + r"|\bhurt myself (?:playing|running|lifting|at)\b",
    ),
    _p(
        "self_harm",
        r"\bself[- ]?harm(?:ing|ed)?\b",
        unless=r"\b(?:about|on|covered|studying|memoir|"
        r"book|article|essay|lecture|awareness|research)\b",
    ),
    _p(
        "self_harm",
        r"\b(?:cut|cutting|carve|carving|slice|slicing|slit|slitting)\s+(?:into\s+)?"
        r"(?:my\s+)?(?:wrists?|arms?|thighs?|legs?|skin|stomach)\b",
        unless=_ACCIDENT,
    ),
    _p("self_harm", r"\b(?:make|made|making)\s+my\s?self\s+bleed\b"),
    _p(
        "self_harm",
        r"\b(?:started|start|stop|stopped|relapsed?|relapsing|urge to|want to|need to)\s+"
        r"(?:cutting|cut)\b(?!\s+(?:back|down|out|corners|ties|costs|the|my hair|coupons))",
    ),
    # --- harm to others ---
    _p(
        "harm_to_others",
        rf"\b(?:i'm|i am|im|i'll|i will|i want to|i wanna|i'm going to|i am going to|i'm gonna|"
        rf"i plan to|i'm planning to|i need to|i could)\s+(?:really\s+|just\s+)?(?:kill|murder|"
        rf"stab|shoot|strangle|choke|poison|hurt|attack|beat up|beat|smother|drown)\s+"
        rf"(?:him|her|them|someone|somebody|people|everyone|everybody|all of them|"
        rf"my\s+{_PEOPLE}|the\s+{_PEOPLE}|that\s+(?:guy|girl|man|woman|bitch|bastard))\b",
        unless=_JOKE + r"|\bfor (?:eating|reading|taking|borrowing|using|finishing|spoiling|"
        r"touching|breaking|losing|drinking)\b",
    ),
    _p(
        "harm_to_others",
        r"\b(?:bring|take|brought|took|bringing|taking)\s+(?:a|my|the|his|her)\s+"
        r"(?:gun|knife|weapon|rifle|pistol)\s+to\s+(?:school|work|class|the office|church)\b",
    ),
    _p("harm_to_others", r"\bshoot(?:ing)?\s+up\s+(?:the|my|a|our)\b"),
    _p(
        "harm_to_others",
        r"\b(?:urges?|thoughts?|fantas(?:y|ies|ise|ize|ising|izing)|images?)\s+(?:of|about|to)\s+"
        r"(?:hurting|killing|harming|stabbing|pushing|strangling)\b(?!\s+my\s?self)",
    ),
    _p("harm_to_others", r"\bharm(?:ing)?\s+(?:others|other people)\b"),
    _p(
        "harm_to_others",
        rf"\b(?:thinking|thought|fantasi[sz]ing|dreaming)\s+(?:about|of)\s+(?:killing|hurting|"
        rf"stabbing|shooting|strangling|poisoning|murdering)\s+(?:him|her|them|someone|people|"
        rf"everyone|my\s+{_PEOPLE})\b",
    ),
    _p(
        "harm_to_others",
        r"\b(?:scared|afraid|worried|terrified)\s+(?:that\s+)?i(?:'ll| will| might| could|"
        r"'m going to| am going to|'m gonna)\s+(?:hurt|kill|harm|hit|shake|strangle)\b"
        r"(?!\s+my\s?self)",
    ),
    _p("harm_to_others", r"\b(?:shook|shake|shaking|shaken)\s+(?:the|my|our)\s+baby\b"),
    # --- abuse and violence (the person is harmed) ---
    _p(
        "abuse_violence",
        rf"\b(?:he|she|they|my\s+{_PEOPLE}|someone|somebody|a man|a guy|a woman)\s+"
        rf"(?:\w+\s+)?(?:hits|hit|beats|beat|punches|punched|kicks|kicked|chokes|choked|"
        rf"strangles|strangled|slaps|slapped|abuses|abused|rapes|raped|molests|molested|"
        rf"assaults|assaulted|attacked|attacks|touches|touched|threatens|threatened|stabbed|"
        rf"burns|burned|drugged|pushed|shoved|hurts|beats up|beat up)\s+me\b",
        unless=_JOKE + r"|\b(?:hit me up|it hit me|pillow|snowball|ball hit)\b",
    ),
    _p(
        "abuse_violence",
        r"\b(?:i\s+(?:was|got|have been|am being|am)|i've been|i'm being|i'm|im being)\s+"
        r"(?:just\s+|still\s+|being\s+)?"
        r"(?:raped|sexually assaulted|sexually abused|molested|assaulted|abused|attacked|"
        r"beaten(?: up)?|trafficked|drugged|stabbed|mugged|groomed)\b",
    ),
    _p("abuse_violence", r"\bthreaten(?:ed|s|ing)?\s+to\s+(?:kill|hurt|stab|shoot)\s+me\b"),
    _p(
        "abuse_violence",
        r"\b(?:said|says|told me|swore|swears|threatens?|threatened)\b[^.!?]{0,20}\b(?:he|she|they)"
        r"(?:'ll| will| would|'d| is going to|'s going to| are going to)\s+(?:kill|hurt|hit|beat|"
        r"stab|shoot)\s+me\b",
    ),
    _p(
        "abuse_violence",
        r"\b(?:scared|afraid|terrified)\s+(?:that\s+)?(?:he|she|they|my\s+\w+)(?:'ll| will| might|"
        r" is going to|'s going to| are going to)\s+(?:kill|hurt|hit|beat|rape)\s+me\b",
    ),
    _p("abuse_violence", r"\bforc(?:ed|es|ing)\s+me\s+to\s+(?:have sex|do things)\b"),
    _p("abuse_violence", r"\bforc(?:ed|es|ing)\s+(?:him|her|them)sel(?:f|ves)\s+on\s+me\b"),
    _p("abuse_violence", r"\bcover(?:ing)?\s+(?:up\s+)?(?:the\s+|my\s+)?bruises\b"),
    _p(
        "abuse_violence",
        r"\b(?:i'm|i am|i've been|i was|victim of|experiencing|suffering|living with|trapped in|"
        r"stuck in)\b[^.!?]{0,25}\b(?:domestic|sexual) (?:abuse|violence)\b",
        unless=r"\b(?:charity|volunteer(?:ed|ing)?|research|studying|class|course|article|book|"
        r"film|documentary|essay|laws?|history)\b",
    ),
    # --- medical emergency ---
    _p(
        "medical_emergency",
        r"\b(?:i'm|i am|i think i'm|i think i am|im|he's|he is|she's|she is|they're|"
        r"they are|is|are|might be)\s+(?:having|going into|in)\s+(?:a\s+|an\s+)?"
        r"(?:severe\s+|bad\s+|massive\s+|serious\s+)?(?:heart attack|"
        r"stroke|seizure|anaphylactic shock|anaphylaxis|allergic reaction|asthma attack|"
        r"cardiac arrest|diabetic (?:shock|coma))\b",
    ),
    _p("medical_emergency", r"\bi\s+(?:just\s+|have\s+|'ve\s+)?overdosed\b"),
    _p("medical_emergency", r"\b(?:took|taken|swallowed|had|take)\s+an\s+overdose\b"),
    _p("medical_emergency", r"\b(?:is|are|'s|'re|am|'m)\s+overdosing\b"),
    _p(
        "medical_emergency",
        r"\b(?:took|taken|swallowed|downed|ate|take)\s+(?:a\s+|the\s+|my\s+)?(?:whole|entire|"
        r"all(?: of)?(?: my| the)?|too many|too much|lots of|a lot of|bunch of|handful of|"
        r"bottle of|packet of|pack of|box of)\b[^.!?]{0,25}\b(?:pills|tablets|meds|"
        r"medication|medicine|capsules|paracetamol|painkillers|sleeping|insulin|antidepressants)",
    ),
    _p(
        "medical_emergency",
        r"\b(?:can't|cannot|can not|cant)\s+breathe\b",
        unless=r"\blaugh|\b(?:heat|humid)",
    ),
    _p(
        "medical_emergency",
        r"\b(?:not|isn't|stopped|aren't|wasn't|isnt)\s+breathing\b|"
        r"\b(?:won't|will not|can't|doesn't|isn't going to)\s+wake\s+up\b|\bunconscious\b|"
        r"\bunresponsive\b|\bisn't responding\b|\bnot responding\b",
        unless=r"\b(?:app|computer|laptop|phone|screen|website|server|program)\b",
    ),
    _p(
        "medical_emergency",
        r"\bmy\s+chest\s+(?:really\s+|is\s+)?(?:hurts|tight|so tight|crushing)\b|"
        r"\b(?:i\s+have|i'm\s+having|having|severe|crushing)\s+(?:severe\s+|bad\s+|a\s+)?"
        r"(?:chest\s+pains?|pain in my chest)\b|\bpain in (?:my|his|her) chest\b",
    ),
    _p(
        "medical_emergency",
        r"\bbleeding\s+(?:heavily|badly|a lot|so much|profusely)\b|\bblood\s+(?:is\s+)?"
        r"everywhere\b|\b(?:bleeding|blood)\b[^.!?]{0,25}\bwon't stop\b|"
        r"\b(?:coughing|throwing|vomiting|spitting)\s+up\s+blood\b",
    ),
    _p(
        "medical_emergency",
        r"\b(?:drank|drunk|swallowed|ate|drink)\s+(?:some\s+|a\s+lot\s+of\s+)?(?:bleach|poison|"
        r"antifreeze|cleaning (?:fluid|product)|detergent|drain cleaner|weed killer|"
        r"rat poison)\b|\bi(?:'ve| have)? been poisoned\b",
    ),
    _p(
        "medical_emergency",
        r"\bthroat\s+(?:is\s+)?(?:swelling|closing)\b|\b(?:lips|face|tongue)\s+(?:is|are)\s+"
        r"(?:swelling|turning blue|going blue|blue)\b|\b(?:turning|going)\s+blue\b",
    ),
    _p("medical_emergency", r"\bface\s+(?:is\s+)?drooping\b|\bspeech\s+is\s+slurred\b"),
    _p(
        "medical_emergency",
        rf"\b(?:he|she|my\s+{_PEOPLE}|someone|a man|a woman)\s+(?:just\s+)?"
        r"(?:collapsed|fainted and|passed out and)\b",
    ),
    _p("medical_emergency", r"\b(?:is|'s) choking\b|\bbaby is coming\b"),
)

#: Short answers that, right after a crisis reply ("Are you safe right now?"), mean "no".
_FOLLOW_UP = re.compile(
    r"^(?:no+|nope|nah|not really|not at all|i'm not|i am not|im not|not safe|i don't know|"
    r"i dont know|idk|not sure|i'm not sure|i can't|i cant|never|no one|nobody|"
    r"(?:it's )?too late|i already did|already did|i did it|i've already|i have already)\b"
)
_REASSURED = re.compile(
    r"\b(?:fine|okay|ok|i'm safe|i am safe|safe now|better|thanks|thank you|worries|"
    r"not going to|won't|wouldn't|not gonna|calling|called|will call|reach out)\b"
)


def match_patterns(text: str) -> list[CrisisPattern]:
    """Every pattern that fires on some sentence of ``text``."""
    norm = normalise(text)
    hits: list[CrisisPattern] = []
    for sentence in sentences(norm) or [norm]:
        hits.extend(p for p in PATTERNS if p.matches(sentence) and p not in hits)
    return hits


def is_follow_up_answer(text: str) -> bool:
    """Whether a short message reads as "no, I'm not safe" after a crisis reply.

    Errs towards caution: only clear reassurance ("no, I'm okay now") is let through.
    """
    norm = normalise(text)
    if len(norm.split()) > 8 or _REASSURED.search(norm):
        return False
    return _FOLLOW_UP.search(norm) is not None


# --- idioms, for the classifier ---------------------------------------------------------------

#: Common English hyperbole rewritten to its literal sense before the classifier reads a text
#: (and the bank), so "I could kill for a pizza" is read as wanting a pizza. Only phrases whose
#: figurative sense is by far the usual one are listed; threats against people are not.
IDIOMS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), literal)
    for pattern, literal in (
        (r"\b(?:could|would|'d|i'd) (?:kill|murder|die) for\b", "would really like"),
        (r"\b(?:is|are|'s|'re) killing me\b", "is bothering me"),
        (r"\b(?:is|are|was|were) (?:going to|gonna) be the death of me\b", "is exhausting me"),
        (r"\bthe death of me\b", "exhausting"),
        (
            r"\bkill(?:ed|ing)? (?:it|that|the (?:exam|interview|presentation|test|show))\b",
            "did very well",
        ),
        (r"\bdying to\b", "eager to"),
        (r"\bto die for\b", "wonderful"),
        (
            r"\b(?:die|died|dying) (?:of|from) (?:embarrassment|shame|boredom|laughter|cuteness)\b",
            "felt very embarrassed",
        ),
        (r"\b(?:nearly |almost )?(?:died|dying|die) laughing\b", "laughed a lot"),
        (r"\bcrawl (?:into|under) a (?:hole|rock)(?: and die)?\b", "hide away"),
        (
            r"\b(?:murder|destroy|demolish|kill|annihilate) (?:a|an|this|that|the|some|my) "
            r"(?:pizza|burger|cup of tea|tea|coffee|beer|pint|meal|sandwich|curry|steak|cake|"
            r"kebab|dessert|plate|bowl)\b",
            "eat",
        ),
        (r"\b(?:just )?shoot me(?: now)?\b", "this is tedious"),
        (r"\b(?:almost|nearly) (?:had|have) a heart attack\b", "got a fright"),
        (r"\b(?:almost|nearly) died when\b", "was shocked when"),
        (r"\bi'd rather die than\b", "i really do not want to"),
        (r"\bdead (?:tired|serious|on|set)\b", "very"),
        (
            r"\b(?:battery|phone|laptop|computer|car|plants?) (?:is|are|was) (?:dead|dying)\b",
            "stopped working",
        ),
        (r"\bbleeding (?:money|cash)\b", "losing money"),
        (
            r"\b(?:slaughtered|murdered|crushed|killed|destroyed) (?:them|the other team|us)\b",
            "won easily",
        ),
    )
)


def literalise(text: str) -> str:
    """``text`` normalised, with the idioms in :data:`IDIOMS` replaced by their literal sense."""
    out = normalise(text)
    for pattern, literal in IDIOMS:
        out = pattern.sub(literal, out)
    return out


# --- the output guard ---------------------------------------------------------------------------

_HARMFUL_REPLY = re.compile(
    r"\byou should (?:just\s+)?(?:kill|hurt|cut|harm|end|starve|punish)\b|"
    r"\b(?:go ahead and|why not|you could|you can|try to)\s+(?:kill|hurt|cut|harm|end)\s+"
    r"(?:your\s?self|it all|your life|him|her|them)\b|"
    r"\b(?:lethal|fatal|deadly)\s+(?:dose|amount|quantity)\b|"
    r"\bhow (?:many|much) (?:pills|tablets)\b|\b\d+\s*(?:pills|tablets|mg|milligrams)\b|"
    r"\bhang (?:your|my)\s?self\b|\bslit (?:your|my) wrists?\b|\boverdose on\b|"
    r"\bjump (?:off|from) (?:a|the) (?:bridge|building|roof|cliff|balcony)\b|"
    r"\b(?:you|they|he|she) deserves? (?:it|to (?:die|suffer|be hurt))\b|"
    r"\bno one (?:would|will) (?:care|miss you)\b|\bnobody (?:cares|would miss you)\b|"
    r"\b(?:the world|everyone) (?:would|will) be better (?:off )?without you\b"
)
#: "hurt yourself" is harmful unless negated just before ("please don't hurt yourself").
_YOURSELF = re.compile(r"\b(?:kill|hurt|harm|cut|starve)\s+your\s?self\b")
_NEGATION = re.compile(
    r"\b(?:don't|do not|never|not|won't|stop|no need to|want to)\W+(?:\w+\W+){0,3}$"
)
_DISMISSIVE_REPLY = re.compile(
    r"\b(?:you need to|you should|just|so|now|please) (?:get over it|grow up|get a grip|"
    r"suck it up|calm down|deal with it|man up|snap out of it|cheer up|stop crying|"
    r"toughen up)\b|"
    r"(?:^|[.!?] )(?:get over it|grow up|get a grip|suck it up|calm down|deal with it|man up|"
    r"snap out of it|cheer up|toughen up|who cares)\b|"
    r"\bstop (?:being so |being )?(?:dramatic|sensitive|whining|complaining|a baby)\b|"
    r"\b(?:it's|that's|it is|that is) (?:not (?:a|that) big (?:a )?deal|no big deal)\b|"
    r"\b(?:others|other people|people) have it (?:much |way |a lot )?worse\b|"
    r"\byou(?:'re| are) (?:overreacting|being dramatic|too sensitive)\b|"
    r"\bthat's your problem\b|\bstop feeling sorry for yourself\b|"
    r"\bit's all in your head\b"
)


def harmful_reply_problem(reply: str) -> str | None:
    """``"harmful"`` or ``"dismissive"`` when a generated reply is one of those, else ``None``.

    Harmful: encouraging harm, method or dose details, "nobody cares", or the reply itself
    speaking crisis language in the first person. Dismissive: minimising or ordering the person
    to feel differently.
    """
    norm = normalise(reply)
    if _HARMFUL_REPLY.search(norm) or match_patterns(reply):
        return "harmful"
    for match in _YOURSELF.finditer(norm):
        if not _NEGATION.search(norm[: match.start()]):
            return "harmful"
    if _DISMISSIVE_REPLY.search(norm):
        return "dismissive"
    return None
