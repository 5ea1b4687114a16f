"""publish.nodes.Nodes: the node to connect to next, round robin, the backoff, failovers."""

from __future__ import annotations

import pytest

from gateway.config.values import MqttUrl, parse_mqtt_url
from gateway.publish.nodes import Nodes

A, B, C = (parse_mqtt_url(f"mqtt://{h}:1883") for h in "abc")


def no_jitter(low: float, high: float) -> float:
    return 1.0


def test_round_robin_and_a_failover_only_on_another_node() -> None:
    nodes = Nodes([A, B, C], uniform=no_jitter)
    assert (nodes.current, nodes.where, len(nodes)) == (A, "mqtt://a:1883", 3)
    assert nodes.connected() is False  # the first connection is no failover
    nodes.failed()
    assert nodes.current == B
    nodes.failed()  # B did not answer either
    assert nodes.current == C
    assert nodes.connected() is True
    nodes.failed()
    assert nodes.current == A  # wraps round
    nodes.failed()
    nodes.failed()
    assert nodes.current == C
    assert nodes.connected() is False  # back on the same node
    nodes.failed()
    assert nodes.next_attempt == "trying mqtt://a:1883"


def test_a_single_broker_is_retried_and_never_fails_over() -> None:
    nodes = Nodes([A], uniform=no_jitter)
    nodes.connected()
    for _ in range(5):
        nodes.failed()
        assert nodes.current == A and nodes.next_attempt == "retrying"
    assert nodes.connected() is False


def test_backoff_doubles_after_each_round_of_failures_and_starts_again_once_connected(
        ) -> None:
    """A dead node (or one paused by an election) does not hold the next one back: the
    backoff doubles only once every node has failed in a row."""
    nodes = Nodes([A, B, C], backoff_min_s=0.5, backoff_max_s=3.0, uniform=no_jitter)
    assert [nodes.failed() for _ in range(12)] == [0.5] * 3 + [1.0] * 3 + [2.0] * 3 + [3.0] * 3
    nodes.connected()
    assert [nodes.failed() for _ in range(4)] == [0.5, 0.5, 0.5, 1.0]
    one = Nodes([A], backoff_min_s=0.5, backoff_max_s=3.0, uniform=no_jitter)
    assert [one.failed() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]  # as ever
    one.connected()
    assert one.failed() == 0.5


def test_jitter_is_plus_or_minus_a_fifth() -> None:
    asked: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        asked.append((low, high))
        return high

    nodes = Nodes([A], backoff_min_s=1.0, uniform=uniform)
    assert nodes.failed() == pytest.approx(1.2)
    assert asked == [(pytest.approx(0.8), pytest.approx(1.2))]
    real = Nodes([A], backoff_min_s=1.0)  # random.uniform
    assert all(0.8 <= real.failed() / 2 ** n <= 1.2 for n in range(4))


def test_no_nodes_is_an_error() -> None:
    empty: list[MqttUrl] = []
    with pytest.raises(ValueError):
        Nodes(empty)
