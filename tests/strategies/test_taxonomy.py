import pytest

from strategies import STRATEGIES, Strategy, normalize_strategy


def test_eight_strategies_with_definitions():
    assert len(STRATEGIES) == 8
    assert all(len(s.definition) > 40 for s in STRATEGIES)


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Questions", Strategy.QUESTION),
        ("question", Strategy.QUESTION),
        ("Other", Strategy.OTHERS),
        ("Reflection of Feelings", Strategy.REFLECTION),
        ("Approval and Reassurance", Strategy.AFFIRMATION),
        ("[Self-disclosure]", Strategy.SELF_DISCLOSURE),
        ("Restatement  or Paraphrasing", Strategy.RESTATEMENT),
        ("Providing_Suggestions", Strategy.SUGGESTIONS),
        (Strategy.INFORMATION, Strategy.INFORMATION),
    ],
)
def test_spelling_variants(label, expected):
    assert normalize_strategy(label) is expected


@pytest.mark.parametrize("label", ["Advice", "", "Greeting"])
def test_unknown_labels_name_the_value(label):
    with pytest.raises(ValueError, match=repr(label)):
        normalize_strategy(label)
