"""The per-address metrics stay as many as the addresses registered now (not every address ever seen)."""
import random

from hypothesis import given, settings
from hypothesis import strategies as hs

from supernode.metrics import SupernodeMetrics
from supernode.scheduler.peers import PeerRegistry


def _peers_series(metrics: SupernodeMetrics) -> dict[str, float]:
    out = {}
    for family in metrics.registry.collect():
        if family.name == "dragonfly_supernode_peers":
            for sample in family.samples:
                out[sample.labels["peer"]] = sample.value
    return out


@settings(max_examples=100, deadline=None)
@given(hs.lists(hs.tuples(hs.booleans(), hs.integers(0, 5)), max_size=60))
def test_peers_gauge_counts_live_peers_per_address_and_forgets_empty_addresses(ops):
    metrics = SupernodeMetrics()
    reg = PeerRegistry(metrics=metrics)
    live: list = []
    rng = random.Random(0)
    for register, host in ops:
        if register or not live:
            live.append(reg.register(f"10.0.0.{host}", f"h{host}", 15001))
        else:
            reg.delete(live.pop(rng.randrange(len(live))).id)
    expected: dict[str, float] = {}
    for peer in live:
        expected[peer.ip] = expected.get(peer.ip, 0) + 1
    assert _peers_series(metrics) == expected


def test_schedule_duration_is_one_series_whatever_the_peers():
    metrics = SupernodeMetrics()
    for n in range(50):
        metrics.schedule_observe(n / 10)
    series = {s.labels.get("peer") for f in metrics.registry.collect()
              if f.name == "dragonfly_supernode_schedule_duration_milliseconds" for s in f.samples}
    assert series == {""}
    text = metrics.render().decode()
    assert 'dragonfly_supernode_schedule_duration_milliseconds_count{peer=""} 50.0' in text
