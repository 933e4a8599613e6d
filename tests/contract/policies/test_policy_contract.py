"""The piece-selection policy contract, run over every built-in policy and every installed plug-in."""
from __future__ import annotations

import random

import pytest

from dfcommon import plugins
from supernode.scheduler.policy import POLICIES, POLICY_GROUP, PieceView, create_policy

NAMES = sorted(set(POLICIES) | set(plugins.installed(POLICY_GROUP)))


def _view(holders, in_flight, running=()):
    return PieceView(holders=lambda p: holders.get(p, 0), in_flight=lambda p: in_flight.get(p, 0),
                     running=list(running))


@pytest.fixture(params=NAMES)
def policy(request):
    return create_policy(request.param)


def test_the_name_it_is_chosen_by(policy, request):
    assert policy.name == request.node.callspec.params["policy"]


def test_order_is_a_permutation_of_the_pieces_asked_about(policy):
    rng = random.Random(7)
    for _ in range(50):
        pieces = rng.sample(range(200), rng.randint(0, 40))
        holders = {p: rng.randint(0, 5) for p in pieces}
        in_flight = {p: rng.randint(0, 3) for p in pieces}
        before = list(pieces)
        order = policy.order(pieces, _view(holders, in_flight, pieces[:3]), random.Random(1))
        assert sorted(order) == sorted(before)          # every piece once, none invented
        assert pieces == before                         # the caller's list is not changed


def test_same_random_seed_same_order(policy):
    pieces, holders = list(range(30)), {p: p % 3 for p in range(30)}
    a = policy.order(pieces, _view(holders, {}), random.Random(3))
    b = policy.order(pieces, _view(holders, {}), random.Random(3))
    assert a == b


def test_no_pieces_no_order(policy):
    assert list(policy.order([], _view({}, {}), random.Random(0))) == []
