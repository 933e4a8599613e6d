import random

import pytest

from dfcommon.errors import ConfigError
from supernode.scheduler.policy import PieceView, create_policy


def view(holders=None, in_flight=None, running=()):
    holders, in_flight = holders or {}, in_flight or {}
    return PieceView(holders=lambda p: holders.get(p, 0), in_flight=lambda p: in_flight.get(p, 0),
                     running=list(running))


def test_rarest_first_counts_pieces_in_flight():
    pol = create_policy("rarest-first")
    order = pol.order([0, 1, 2, 3], view(holders={0: 2, 1: 1}, in_flight={2: 1}), random.Random(1))
    assert order[0] == 3                      # nobody has or fetches it
    assert set(order[1:3]) == {1, 2} and order[3] == 0


def test_rarest_first_prefers_a_piece_a_peer_can_serve_on_ties():
    pol = create_policy("rarest-first")
    # piece 5: one holder; piece 1: none but one client fetching it from the supernode
    assert pol.order([1, 5], view(holders={5: 1}, in_flight={1: 1}), random.Random(0)) == [5, 1]


def test_ties_go_to_the_piece_nearest_the_running_centre():
    pol = create_policy("rarest-first")
    assert pol.order([0, 9, 5, 6], view(running=[5, 7]), random.Random(0))[:2] == [6, 5]


def test_dragonfly_policy_ignores_in_flight_and_sequential_sorts():
    order = create_policy("dragonfly").order([0, 1], view(holders={1: 0}, in_flight={0: 3}), random.Random(0))
    assert sorted(order) == [0, 1]
    assert create_policy("dragonfly").order([0, 1], view(holders={0: 1}), random.Random(0)) == [1, 0]
    assert create_policy("sequential").order([3, 1, 2], view(holders={1: 5}), random.Random(0)) == [1, 2, 3]


def test_unknown_policy_is_a_config_error():
    with pytest.raises(ConfigError, match="rarest-first"):
        create_policy("fastest")
