import pytest

from severity.serving.routing import Router, event_routing_key, routing_bucket


def test_buckets_are_deterministic_and_uniform():
    keys = [f"client-{i}" for i in range(20_000)]
    assert [routing_bucket(k) for k in keys[:50]] == [routing_bucket(k) for k in keys[:50]]
    router = Router("ab", 0.2)
    share = sum(router.answering_variant(k) == "challenger" for k in keys) / len(keys)
    assert abs(share - 0.2) < 0.01


def test_a_key_always_meets_the_same_arm_and_shares_nest():
    # Raising the share only moves keys from champion to challenger, never back.
    small, large = Router("ab", 0.1), Router("ab", 0.3)
    for i in range(2_000):
        key = f"event-{i}"
        if small.answering_variant(key) == "challenger":
            assert large.answering_variant(key) == "challenger"


def test_champion_and_shadow_modes_always_answer_with_the_champion():
    for mode in ("champion", "shadow"):
        assert {Router(mode, 0.9).answering_variant(str(i)) for i in range(500)} == {"champion"}
    assert Router("shadow", 0.0).shadows and not Router("ab", 0.5).shadows


def test_routing_key_falls_back_to_event_id_then_content():
    assert event_routing_key("client-7", "EV1", {"a": 1}) == "client-7"
    assert event_routing_key(None, "EV1", {"a": 1}) == "EV1"
    assert event_routing_key(None, None, {"b": 2, "a": 1}) == event_routing_key(None, None, {"a": 1, "b": 2})


@pytest.mark.parametrize(
    ("mode", "share", "message"), [("canary", 0.1, "routing mode"), ("ab", 1.5, "within \\[0, 1\\]")]
)
def test_bad_routing_settings_are_refused(mode, share, message):
    with pytest.raises(ValueError, match=message):
        Router(mode, share)
