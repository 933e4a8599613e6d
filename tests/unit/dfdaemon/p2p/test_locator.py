import random
from collections import Counter

import pytest

from dfcommon.errors import ConfigError
from dfdaemon.p2p.locator import Locator, Node, expand, parse_node, parse_nodes


@pytest.mark.parametrize("text,node", [
    ("10.0.0.1", Node("10.0.0.1", 8002, 1)),
    ("10.0.0.1:9000", Node("10.0.0.1", 9000, 1)),
    ("10.0.0.1=3", Node("10.0.0.1", 8002, 3)),
    ("sn.example.com:8003=2", Node("sn.example.com", 8003, 2)),
    ("[::1]:8004=2", Node("::1", 8004, 2)),
    ("[::1]", Node("::1", 8002, 1)),
])
def test_parse_node(text, node):
    assert parse_node(text) == node


@pytest.mark.parametrize("bad", ["", "h:abc", "h:70000", "h=0", "h=x", ":8002", "[::1"])
def test_parse_node_rejects(bad):
    with pytest.raises(ConfigError):
        parse_node(bad)


def test_parse_nodes_comma_and_repeat_and_default():
    nodes = parse_nodes(["a,b:9000", "c=2"])
    assert [n.address for n in nodes] == ["a:8002", "b:9000", "c:8002"]
    assert parse_nodes([]) == [Node("127.0.0.1", 8002, 1)]


def test_weights_divided_by_gcd():
    order = expand([Node("a", weight=4), Node("b", weight=2), Node("c", weight=6)], random.Random(1))
    assert Counter(order) == {"a:8002": 2, "b:8002": 1, "c:8002": 3}


def test_shuffle_depends_on_rng_and_keeps_members():
    nodes = [Node(f"n{i}") for i in range(8)]
    a = expand(nodes, random.Random(1))
    b = expand(nodes, random.Random(2))
    assert sorted(a) == sorted(b) and a != b


def test_walk_skips_current_node_and_ends():
    loc = Locator([Node("a", weight=2), Node("b")], random.Random(0))
    order = loc.order
    first = loc.next()
    assert first == order[0]
    loc.select(first)
    rest = []
    while (n := loc.next()) is not None:
        rest.append(n)
    assert first not in rest
    assert rest == [n for n in order[1:] if n != first]
    assert loc.next() is None
