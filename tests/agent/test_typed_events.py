"""Turn events are typed (``attune.types.TurnEvent``, discriminated by ``type``): the nodes emit
the models, ``stream_turn`` yields them, and what the wire carries (``event.data``) validates
back into the same model."""

from __future__ import annotations

from pydantic import TypeAdapter

from attune.types import (
    TURN_EVENTS,
    ReplyDoneEvent,
    SafetyEvent,
    StrategyEvent,
    TurnEvent,
    TurnResult,
)
from tests.agent.helpers import fake_attune

ADAPTER: TypeAdapter[TurnEvent] = TypeAdapter(TurnEvent)


def test_a_turn_streams_typed_events_that_survive_the_wire() -> None:
    bot = fake_attune()
    events = list(bot.stream_turn("My dog died yesterday and I miss him.", "typed"))
    assert all(isinstance(e, TURN_EVENTS) for e in events)
    kinds = [e.type for e in events]
    assert kinds[:3] == ["perception", "perception", "safety"]
    assert kinds[-1] == "reply.done" and "strategy" in kinds and "reply.delta" in kinds
    assert len({e.turn_id for e in events}) == 1 and events[0].turn_id
    safety = next(e for e in events if isinstance(e, SafetyEvent))
    assert safety.tier == "none"
    strategy = next(e for e in events if isinstance(e, StrategyEvent))
    done = events[-1]
    assert isinstance(done, ReplyDoneEvent) and isinstance(done.result, TurnResult)
    assert done.result.strategy == strategy.strategy
    for event in events:  # the wire payload is the model's, field for field
        again = ADAPTER.validate_python(
            {"type": event.type, "turn_id": event.turn_id, **event.data}
        )
        assert again == event


def test_a_crisis_turn_streams_the_crisis_event_with_its_resources() -> None:
    bot = fake_attune()
    events = list(
        bot.stream_turn("I have pills saved up and I am going to take them all tonight.", "c")
    )
    crisis = [e for e in events if e.type == "crisis"]
    assert len(crisis) == 1 and crisis[0].resources  # type: ignore[union-attr]
    assert crisis[0].data["resources"][0]["name"]
