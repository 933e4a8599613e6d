"""The simulator (bench/simulate) on a small swarm: it drives the real task manager to the end of a
distribution. Correctness only; its timings are benchmarks (docs/benchmarks.md)."""
import pytest

from bench.simulate.swarm import MiB, Scenario, Swarm
from supernode.scheduler.manager import TaskManager


def _run(**kw):
    sw = Swarm(Scenario(hosts=50, file_size=64 * MiB, piece_size=4 * MiB, seed=3, **kw))
    sw.run()
    return sw


def test_the_simulator_drives_the_real_task_manager():
    sw = Swarm(Scenario(hosts=2, file_size=8 * MiB))
    assert type(sw.manager) is TaskManager and sw.manager.scheduler is sw.services.scheduler


@pytest.mark.parametrize("kw", [{}, {"slow_share": 0.1, "leave_share": 0.1, "piece_failure": 0.02}],
                         ids=["alike", "slow-leaving-failing"])
def test_every_staying_host_completes_and_the_origin_sends_one_file(kw):
    sw = _run(**kw)
    stayed = [h for h in sw.hosts if not h.leaves]
    assert len(stayed) == 50 - int(50 * kw.get("leave_share", 0))
    assert all(h.finished is not None for h in stayed)
    assert sw.cdn.origin_bytes == 64 * MiB                  # the CDN fetched the file once
    assert sw.sn_bytes >= 64 * MiB                          # every piece left the supernode at least once
    progress, task = sw.state.progress, sw.state.tasks.get(sw.task_id)
    for h in stayed:                                         # the supernode's records agree: all 16 pieces
        assert len(progress.success_pieces(h.cid)) == task.piece_total == 16
        assert h.pieces >= 16 and not h.running
    if kw.get("piece_failure"):
        assert sw.failures > 0                               # bad pieces were reported and fetched again
    assert all(h.gone for h in sw.hosts if h.leaves)
