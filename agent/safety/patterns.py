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
from typing import TypeVar

from attune.types import CrisisCategory

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
_MEDS = (
    r"(?:pills|tablets|meds|medication|medicine|sleeping pills|sleeping tablets|painkillers|"
    r"antidepressants|paracetamol|insulin|heart pills)"
)


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


_P = TypeVar("_P", "CrisisPattern", "ConcernPattern")


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
        unless=r"\bdrown(?:ing)? my\s?self in\b",
    ),
    _p("suicidal_ideation", r"\b(?:end|ending|take|taking|took)\s+my\s+(?:own\s+)?life\b"),
    _p(
        "suicidal_ideation",
        rf"\b{_ME}\b[^.!?]{{0,30}}\bsuicidal\b",
        unless=r"\bnot (?:\w+ )?suicidal\b|"
        r"\b(?:thought|think|thinks|assumed|said|if) i(?:'m| am| was)? (?:\w+ )?suicidal\b",
    ),
    _p(
        "suicidal_ideation",
        r"\bsuicidal\s+(?:thoughts?|feelings?|ideation|urges?|again)\b",
        unless=rf"\b(?:my\s+{_PEOPLE}|he|she|they|his|her)\b[^.!?]{{0,25}}\bsuicidal\b",
    ),
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
    _p(
        "suicidal_ideation",
        r"\bpart of me\s+(?:\w+\s+)?(?:wants|wishes|wanted|wished)\s+(?:to die|i was dead|"
        r"i were dead|to end (?:it|my life)|to kill myself)\b",
        unless=_DIE_IDIOM,
    ),
    _p("suicidal_ideation", r"\b(?:i'd|i would|i'll|i will|i'm|i am|be)\s+better off dead\b"),
    _p(
        "suicidal_ideation",
        r"\b(?:don't|do not|dont|no longer|never)\s+(?:really\s+)?want\s+to\s+"
        r"(?:live|be alive|exist|be here anymore|wake up)\b",
        unless=r"\bwant to live (?:in (?!this world|the world|a world)|with|like|there|here|near|"
        r"at|on|under|through|alone|together|somewhere|anywhere)",
    ),
    _p(
        "suicidal_ideation",
        r"\b(?:no|nothing (?:left )?to|no point|no reason)\s*(?:reason\s+)?(?:to|in|for)\s+"
        r"(?:live|living|go(?:ing)? on|carry(?:ing)? on|be(?:ing)? alive|stay(?:ing)? alive)\b",
    ),
    _p("suicidal_ideation", r"\bnot worth living\b|\bnothing (?:left )?to live for\b"),
    _p(
        "suicidal_ideation",
        r"\b(?:everyone|everybody|the world|my family|my kids|my children|they|people|we all|"
        r"they all|all of them|would all|all be|world would|family would)\b[^.!?]{0,25}"
        r"\b(?:better off|happier|be better)\s+without me\b",
    ),
    _p("suicidal_ideation", r"\bend(?:ing)? it all\b|\bend it (?:tonight|today|now|soon)\b"),
    _p("suicidal_ideation", r"\b(?:sleep|fall asleep|go to sleep)\b[^.!?]{0,25}\bnever wake up\b"),
    _p(
        "suicidal_ideation",
        rf"\bhow many (?:of (?:my|the|these|those) )?(?:\w+ )?{_MEDS}\b[^.!?]{{0,30}}"
        r"\b(?:take|kill|die|need)",
    ),
    _p(
        "suicidal_ideation",
        r"\b(?:ways|how)\s+to\s+(?:kill myself|die|end my life|commit suicide|"
        r"end it|do it painlessly)\b",
    ),
    _p("suicidal_ideation", r"\bwhen i'm gone\b|\bafter i'm gone\b|\bonce i'm gone\b"),
    _p(
        "suicidal_ideation",
        r"\bkms\b|\bunalive\s+my\s?self\b|\b(?:going to|gonna|want to|wanna|might|should|"
        r"could|will|i'll|just|to)\s+off\s+my\s?self\b",
    ),
    # means: pills saved or stockpiled for the purpose
    _p(
        "suicidal_ideation",
        r"\b(?:pills|tablets|meds|medication|sleeping pills|painkillers)\b[^.!?]{0,30}\b"
        r"(?:saved|stockpiled|hoarded|stashed|put aside|set aside|saving|stockpiling|hoarding)\b|"
        r"\b(?:saved|saving|stockpiled|stockpiling|hoarded|hoarding|stashed|stashing)\s+(?:up\s+)?"
        r"(?:my\s+|all\s+my\s+|some\s+|a lot of\s+|enough\s+)?(?:\w+\s+)?(?:pills|tablets|"
        r"meds|medication|painkillers)\b",
        unless=r"\b(?:money|cash|dollars|coupons?|discount|insurance|vitamins?|supplements?|"
        r"iron|probiotics?|forget to take|for the trip|for travel)\b",
    ),
    _p("suicidal_ideation", r"\b(?:tied|made|bought|got|have)\s+(?:a|the|my)\s+noose\b"),
    # means and a place or time: a rope bought, "where I'm going to do it"
    _p(
        "suicidal_ideation",
        r"\b(?:bought|got|have|found|tied)\s+(?:a|the|some)\s+(?:rope|hose|noose)\b[^.!?]{0,60}"
        r"\b(?:do it|going to|gonna|end it|hang)\b|"
        r"\b(?:know|decided|picked|chosen)\s+(?:exactly\s+)?(?:where|when|how)\s+i'?m\s+"
        r"(?:going to|gonna)\s+do it\b",
        unless=r"\b(?:climb|climbing|camping|boat|sail|tent|swing|washing line|garden hose)\b",
    ),
    _p(
        "suicidal_ideation",
        r"\b(?:thinking (?:about|of)|thought (?:about|of)|want to|wanna|going to|gonna|urge to|"
        r"about to|ready to|keep picturing|planning on)\s+(?:just\s+)?(?:jumping|jump|throwing "
        r"myself|throw myself|stepping|step|walking|walk)\s+(?:off|from|in front of|into)\s+"
        r"(?:the|a|my|that|this|our)\s+(?:\w+\s+)?(?:bridge|roof|building|balcony|cliff|train|"
        r"tracks|traffic|bus|lorry|truck|car|river|sea|window|ledge|tower)\b",
        unless=r"\bbungee|\bparachut|\bskydiv|\binto the (?:sea|river|pool|lake) (?:for|to) (?:a )?"
        r"(?:swim|cool)",
    ),
    # --- self-harm ---
    _p(
        "self_harm",
        r"\b(?:cut|cutting|cuts|burn|burning|burned|burnt|harm|harming|harmed|injure|injuring|"
        r"injured|punish|punishing|scratch|scratching|starve|starving|bruise|bruising)\s+my\s?self\b",
        unless=_ACCIDENT + r"|\bwithout\b|\bburn(?:ed|t|ing)? my\s?self out\b",
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
        unless=_JOKE + r"|\b(?:hit me up|it hit me|pillow|snowball|ball hit|kicked me out|"
        r"kicks me out|threw me out)\b",
    ),
    _p(
        "abuse_violence",
        r"\b(?:i\s+(?:was|got|have been|am being|am)|i've been|i'm being|i'm|im being)\s+"
        r"(?:just\s+|still\s+|being\s+)?"
        r"(?:raped|sexually assaulted|sexually abused|molested|assaulted|abused|attacked|"
        r"beaten(?: up)?|trafficked|drugged|stabbed|mugged|groomed)\b",
    ),
    _p("abuse_violence", r"\bthreaten(?:ed|s|ing)?\s+to\s+(?:kill|hurt|stab|shoot)\s+me\b"),
    # danger now: a break-in, hiding from someone
    _p(
        "abuse_violence",
        r"\b(?:someone|somebody|a man|a guy|people|they|he|she)(?:'s| is| are|'re)\s+"
        r"(?:trying to\s+)?(?:break(?:ing)?\s+in(?:to)?|get(?:ting)?\s+in(?:to)?|"
        r"forcing (?:the|my) door)\b"
        r"[^.!?]{0,30}\b(?:house|flat|home|apartment|room|door|window)\b|"
        r"\bhiding (?:in|under|inside) (?:the|my|a) (?:closet|wardrobe|cupboard|bathroom|bed|"
        r"attic|basement|car)\b[^.!?]{0,40}\b(?:from (?:him|her|them|my|someone)|because (?:he|she|"
        r"they)|he'?s|she'?s|they'?re)\b",
        unless=r"\b(?:game|hide and seek|hide-and-seek|film|movie|dream|burglar alarm test)\b",
    ),
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
    _p(
        "medical_emergency",
        r"\bi\s+(?:just\s+|have\s+|'ve\s+)?overdosed\b",
        unless=r"\boverdosed on (?:chocolate|sugar|sweets|candy|cake|coffee|caffeine|carbs|pizza|"
        r"netflix|tv|telly|cheese|cookies|biscuits|memes|sunshine|love|music)\b",
    ),
    _p("medical_emergency", r"\b(?:took|taken|swallowed|had|take)\s+an\s+overdose\b"),
    _p("medical_emergency", r"\b(?:is|are|'s|'re|am|'m)\s+overdosing\b"),
    _p(
        "medical_emergency",
        r"\b(?:took|taken|swallowed|downed|ate|take)\s+(?:a\s+|the\s+|my\s+|like\s+|about\s+|"
        r"maybe\s+|over\s+)?(?:whole|entire|all(?: of)?(?: my| the)?|too many|too much|lots of|"
        r"a lot of|bunch of|handful of|bottle of|packet of|pack of|box of|\d{2,}|ten|twelve|"
        r"fifteen|twenty|thirty|forty|fifty|a dozen|dozens of|loads of|heaps of)\b[^.!?]{0,25}"
        r"\b(?:pills|tablets|meds|medication|medicine|capsules|paracetamol|painkillers|sleeping|"
        r"insulin|antidepressants)",
    ),
    _p(
        "medical_emergency",
        r"\b(?:can't|cannot|can not|cant)\s+breathe\b",
        unless=r"\blaugh|\b(?:heat|humid)|\bfeel(?:s|ing)? like\b|\boverwhelm",
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

# --- risk indicators without stated intent, plan or means (the concern tier) -----------------


@dataclass(frozen=True)
class ConcernPattern:
    """A risk indicator (feeling like a burden, hopelessness, wanting to disappear...) that asks
    for a gentle, direct check-in rather than the crisis reply. ``said`` is how the check-in
    refers to it ("When you say {said}, ...")."""

    category: CrisisCategory
    regex: re.Pattern[str]
    said: str
    unless: re.Pattern[str] | None = None

    def matches(self, sentence: str) -> bool:
        """Whether this indicator is in one normalised sentence."""
        if not self.regex.search(sentence):
            return False
        return not (self.unless is not None and self.unless.search(sentence))


def _c(
    regex: str, said: str, unless: str | None = None, category: CrisisCategory = "suicidal_ideation"
) -> ConcernPattern:
    return ConcernPattern(category, re.compile(regex), said, re.compile(unless) if unless else None)


_NOT_SELF = r"\b(?:don't|do not|dont|not|never|won't|hate|afraid of|scared of)\s+(?:\w+\s+){0,2}"

#: Risk indicators, each said in the first person.
CONCERN_PATTERNS: tuple[ConcernPattern, ...] = (
    _c(
        r"\b(?:i'm|i am|im|i feel like|feel like|i feel|i've become|i have become|i've been|"
        r"i was|i'm being|i am being|being|i'm just|i am just)\s+(?:like\s+)?(?:i'm\s+|i am\s+)?"
        r"(?:such\s+|just\s+|only\s+|nothing but\s+|a huge\s+|a big\s+|a real\s+)?(?:a\s+)?"
        r"(?:burden|weight around|drain on)\b",
        "you feel like a burden",
        unless=_NOT_SELF + r"(?:be|being)\s+a\s+burden",
    ),
    _c(
        r"\b(?:can't|cannot|cant|can not|don't think i can|dont think i can)\s+(?:keep\s+)?"
        r"(?:go on|going on|keep going|carry on|do this anymore|take (?:it|this|any more|anymore)"
        r"\s*(?:anymore|any more)?|cope anymore|face another day|survive another)\b",
        "you can't go on",
        unless=r"\b(?:can't|cant|cannot) go on (?:a|the|holiday|vacation|trips?|dates?|"
        r"with (?:the|my|this) (?:job|relationship|course))\b",
    ),
    _c(
        r"\b(?:want(?:ed)?|wanna|wish i could|would like|i'd like|need)\s+to\s+(?:just\s+)?"
        r"(?:disappear|vanish)\b|\b(?:would|i'd) rather (?:just\s+)?(?:disappear|vanish)\b|"
        r"\bdisappear (?:forever|for good|off the face)",
        "you want to disappear",
        unless=r"\bfor (?:a|the) (?:while|bit|day|few|week|weekend|month|night)|\bfor a few\b|"
        r"\bon (?:a|an) (?:trip|holiday|vacation|hike)|\bhik(?:e|ing)|\bcamping|\btravel|"
        r"\binto (?:a|my) (?:book|game|show)|\bfrom (?:this|the) (?:party|meeting|class|wedding)\b",
    ),
    _c(
        r"\b(?:everything|it all|life|my life|things|the future|my future|it)\s+(?:just\s+)?"
        r"(?:feels?|seems?|is|are|looks?)\s+(?:so\s+|completely\s+|totally\s+|really\s+|"
        r"utterly\s+)?(?:hopeless|pointless|meaningless|bleak)\b|"
        r"\b(?:i feel|i'm|i am|im|feeling|i've been feeling|i have been feeling)\s+"
        r"(?:so\s+|really\s+|very\s+|completely\s+|quite\s+|utterly\s+|totally\s+)?"
        r"hopeless\b(?!\s+(?:about|at|with|when it comes to)\s+(?!life|everything|the future))|"
        r"\b(?:no|any) hope left\b|\b(?:i have|i've got|there's|there is|i've)\s+no hope\b|"
        r"\blost all hope\b",
        "things feel hopeless",
    ),
    _c(
        r"\b(?:what's|whats|what is)\s+(?:even\s+)?the\s+point\s+(?:anymore|of (?:anything|"
        r"living|life|me|trying|going on|it all|any of it)(?:\s+anymore)?)\b|"
        r"\bno point (?:in )?(?:anything|trying|going on|any of it)(?: anymore)?\b|"
        r"\b(?:don't|do not|dont|can't|cannot|cant|no longer)\s+see\s+(?:the|any)\s+point\s+"
        r"(?:of|in)\s+(?:going on|carrying on|living|life|anything|being here|being alive|"
        r"trying anymore|any of it)\b",
        "you don't see the point",
        unless=r"\b(?:arguing|asking|calling|waiting|studying|applying|complaining)\b",
    ),
    _c(
        r"\b(?:tired|sick|exhausted|weary)\s+of\s+(?:life|living|being alive|existing|"
        r"being me|being here)\b|\b(?:hate|hated)\s+being alive\b|\bgiving up on life\b|"
        r"\bgive up on life\b|\bgave up on life\b",
        "you're tired of living",
    ),
    _c(
        r"\b(?:no ?one|nobody)\s+(?:would|will|'d)\s+(?:even\s+)?(?:care|notice|miss me|"
        r"mind)\s+(?:if|when)\s+i\b|\bno ?one would (?:even\s+)?miss me\b|"
        r"\b(?:no ?one|nobody)\s+(?:needs|wants) me\s*(?:anymore|around)?\b",
        "nobody would notice or care",
    ),
    _c(
        r"\b(?:wish|easier if|better if|simpler if|relief if)\s+i\s+(?:just\s+)?(?:wasn't|was not|"
        r"weren't|were not|wasnt|didn't|did not)\s+(?:here|around|alive|born|exist)\b|"
        r"\bwish i(?:'d| had) never been born\b|\b(?:stop|stopped) existing\b|"
        r"\bnot (?:being|be) here anymore\b|\bwasn't meant to be here\b|"
        r"\bthinking about not being here\b|\bjust taking up space\b|\bwaste of space\b",
        "you'd rather not be here",
    ),
    _c(r"\b(?:better off|happier)\s+without me\b", "they'd be better off without you"),
    _c(
        r"\b(?:trapped|stuck)\b[^.!?]{0,20}\bno (?:way|escape)(?: out)?\b|"
        r"\bno way out\b",
        "you feel there's no way out",
        unless=r"\b(?:traffic|elevator|lift|meeting|queue|contract|game|level|maze|room)\b",
    ),
    # Hiding the marks of self-harm is itself a recognised warning sign.
    _c(
        r"\b(?:hide|hiding|cover|covering|hid|covered)\s+(?:up\s+)?(?:the\s+)?(?:my\s+)?"
        r"(?:arms|wrists|thighs|legs|scars|cuts|marks|burns)\b|"
        r"\b(?:long sleeves|sleeves|bracelets|wristbands)\b[^.!?]{0,40}\b(?:no ?one|nobody|"
        r"people|anyone)\s+(?:can\s+|could\s+|will\s+|would\s+)?(?:sees?|notices?|asks?)\b",
        "you keep your arms hidden",
        category="self_harm",
    ),
    # Fear of one's own violence, and urges to hurt: ask, don't alarm.
    _c(
        r"\b(?:scared|afraid|frightened|terrified|worried)\s+(?:of\s+)?(?:what|that)\s+i\s*"
        r"(?:'ll|will|might|could|would|'d|am going to|'m going to|m going to)\s+"
        r"(?:do|end up doing|snap)\b|"
        r"\b(?:urges?|impulses?|thoughts?)\s+(?:to|of|about)\s+(?:\w+\s+){0,1}"
        r"(?:hurt(?:ing)?|push(?:ing)?|hit(?:ting)?|stab(?:bing)?|attack(?:ing)?|strangl\w*|"
        r"chok(?:e|ing)|shov(?:e|ing))\s+(?:people|someone|somebody|him|her|them|my|a|the|"
        r"strangers|others)\b",
        "you're scared of what you might do",
        category="harm_to_others",
    ),
    # Signs of abuse by someone with power over the person (a secret, unwanted touching).
    _c(
        r"\b(?:keeps?|kept|always|won't stop|wont stop|started)\s+(?:\w+\s+){0,4}?"
        r"touching me\b|\btouch(?:es|ed|ing)? me\b[^.!?]{0,40}\b(?:don't|dont|didn't|do not)"
        r"\s+(?:like|want)\b|"
        r"\b(?:said|says|told me|tells me)\s+(?:that\s+)?(?:no ?one|nobody)\s+(?:would|will)\s+"
        r"(?:ever\s+)?believe me\b|\b(?:said|says|told me|tells me)\s+(?:it's|it is|this is)\s+"
        r"our (?:little )?secret\b",
        "someone is doing things that frighten you",
        category="abuse_violence",
    ),
    # Red flags in a child or baby that a parent may not name as an emergency.
    _c(
        r"\b(?:baby|infant|newborn|toddler|son|daughter|child|kid)\b[^.!?]{0,60}"
        r"\b(?:floppy|limp|hard to wake|won't wake|wont wake|can't wake|cant wake|"
        r"not waking|turning blue|lips are blue|struggling to breathe|not breathing)\b",
        "your child is this unwell",
        category="medical_emergency",
    ),
)

#: A past-tense report of abuse ("when I was a teenager", "years ago"): support without the
#: crisis reply, unless something says it is still happening.
_PAST = re.compile(
    r"\bwhen i was (?:a |an |little|young|younger|small|\d+|in )|\byears ago\b|"
    r"\bas a (?:child|kid|teen(?:ager)?|little girl|little boy)\b|\bgrowing up\b|"
    r"\bin (?:my|the) past\b|\bused to\b|\blong time ago\b|\bin high school\b|"
    r"\bin college\b|\bsurvivor\b|\bchildhood\b"
)
_STILL = re.compile(
    r"\b(?:again|tonight|today|yesterday|last night|right now|at the moment|these days|"
    r"every (?:day|night|time|week)|still (?:happening|going on|does|doing|hits|hurts|abuses|"
    r"touches|comes|live with|living with|with (?:him|her|them))|keeps? (?:hitting|hurting|"
    r"touching|coming|doing|cutting|burning)|is (?:hitting|hurting|abusing|touching)|"
    r"(?:am|i'm|im) still)\b"
)


def match_concern(text: str) -> list[ConcernPattern]:
    """Every risk indicator in some sentence of ``text``."""
    return _matching(CONCERN_PATTERNS, text)


_RECOVERED = re.compile(
    r"\b(?:don't|do not|dont|no longer|not)\s+(?:\w+\s+)?(?:hurt|cut|harm|burn)\w*\s+"
    r"(?:my\s?self\s+)?(?:anymore|any more)\b|\b(?:stopped|quit)\s+(?:cutting|self[- ]?harming|"
    r"hurting myself)\b|\b(?:\d+|a few|several|many|two|three) (?:days|weeks|months|years) clean\b"
)


def history_only(text: str) -> bool:
    """Whether the crisis language in ``text`` is about the past ("when I was a teenager",
    "years ago", "I don't hurt myself anymore") and nothing in it says it is happening now:
    a history to hear and ask about (the concern tier), not an emergency."""
    norm = normalise(text)
    return bool(_PAST.search(norm) or _RECOVERED.search(norm)) and not _STILL.search(norm)


# --- reading an answer in the light of the question ---------------------------------------------


@dataclass(frozen=True)
class RiskQuestion:
    """A question about risk in the last assistant (or supporter) message: which category it
    asks about, and which answer means danger (``"yes"`` to "are you having thoughts of ending
    your life?", ``"no"`` to "are you safe right now?")."""

    category: CrisisCategory
    danger: str


_QUESTIONS: tuple[tuple[re.Pattern[str], CrisisCategory, str], ...] = (
    (
        re.compile(
            r"\b(?:thoughts? (?:of|about) (?:ending your life|suicide|killing yourself|"
            r"not being here|dying)|thinking (?:of|about) (?:ending your life|suicide|killing "
            r"yourself|taking your (?:own )?life)|(?:want|wanting) to (?:die|end your life|kill "
            r"yourself)|suicidal)\b[^.!]*\?"
        ),
        "suicidal_ideation",
        "yes",
    ),
    (
        re.compile(r"\b(?:hurting|harming|cutting|hurt|harm|cut) yourself\b[^.!]*\?"),
        "self_harm",
        "yes",
    ),
    (
        re.compile(
            r"\b(?:act on (?:these|those|this|that) feelings|hurt (?:someone|anyone|somebody|them|"
            r"him|her))\b[^.!]*\?"
        ),
        "harm_to_others",
        "yes",
    ),
    (
        re.compile(
            r"\b(?:is|are) (?:anyone|someone|somebody|he|she|they) (?:still )?hurting you\b[^.!]*\?"
        ),
        "abuse_violence",
        "yes",
    ),
    (
        re.compile(r"\bare you (?:safe|somewhere safe)\b[^.!]*\?"),
        "suicidal_ideation",
        "no",
    ),
)
_YES = re.compile(
    r"^(?:yes+|yeah|yea|yep|yup|ya|y|i am|i do|i have|i guess|i think so|sometimes|maybe|"
    r"kind of|kinda|sort of|a little|a bit|often|all the time|every day|every night|a lot|"
    r"honestly,? yes|if i'm honest|to be honest,? yes|i've thought about it|"
    r"i have thought about it|i'm thinking about it|more than i'd like|lately,? yes|probably)\b"
)
_NO = re.compile(
    r"^(?:no+|nope|nah|not really|never|not at all|no way|god no|i'm not|i am not|im not|"
    r"i wouldn't|i would never|i'd never|definitely not|of course not|not like that|no no)\b"
)
_UNSURE = re.compile(r"^(?:i don't know|i dont know|idk|not sure|i'm not sure|dunno|i can't say)\b")


def risk_question(message: str) -> RiskQuestion | None:
    """The risk question asked in ``message`` (the last one when several), or ``None``."""
    norm = normalise(message)
    found: tuple[int, RiskQuestion] | None = None
    for regex, category, danger in _QUESTIONS:
        for match in regex.finditer(norm):
            if found is None or match.start() > found[0]:
                found = (match.start(), RiskQuestion(category, danger))
    return found[1] if found else None


def answer_polarity(text: str) -> str | None:
    """``"yes"``, ``"no"`` or ``"unsure"`` for a message that opens as an answer, else ``None``."""
    norm = normalise(text).lstrip("\"'(- ")
    if _NO.search(norm):
        return "no"
    if _UNSURE.search(norm):
        return "unsure"
    if _YES.search(norm):
        return "yes"
    return None


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


def _matching(patterns: tuple[_P, ...], text: str) -> list[_P]:
    """The patterns that fire on some sentence of ``text``, in table order."""
    norm = normalise(text)
    hits: list[_P] = []
    for sentence in sentences(norm) or [norm]:
        hits.extend(p for p in patterns if p.matches(sentence) and p not in hits)
    return hits


def match_patterns(text: str) -> list[CrisisPattern]:
    """Every pattern that fires on some sentence of ``text``."""
    return _matching(PATTERNS, text)


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
        (
            r"\b(?:is|are|'s|'re|will|'ll) (?:going to |gonna )?(?:kill|murder) me "
            r"(?=when (?:he|she|they) (?:sees?|finds? out|hears?|notices?|reads?|learns?|"
            r"realises?|realizes?|gets? (?:the|my) (?:bill|grades|results|report))\b)",
            "will be angry with me ",
        ),
        (r"\b(?:is|are|was|were) (?:going to|gonna) be the death of me\b", "is exhausting me"),
        (r"\bthe death of me\b", "exhausting"),
        (
            r"\bkill(?:ed|ing)? (?:it|that|the (?:exam|interview|presentation|test|show))\b",
            "did very well",
        ),
        (r"\bdying to\b", "eager to"),
        (
            r"\b(?:disappear|vanish)(?= for (?:a|the) (?:while|bit|few|week|weekend|day|month|"
            r"night)| for a few\b| on (?:a|an) (?:trip|holiday|vacation|hike))",
            "get away",
        ),
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
