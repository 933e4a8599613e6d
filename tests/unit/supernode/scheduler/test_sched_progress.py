from supernode.scheduler.progress import FAILED, RUNNING, SEMISUC, SUCCESS, WAITING, PieceBitset, ProgressStore


def test_bitset_success_is_final_and_semisuc_counts_as_success():
    b = PieceBitset()
    assert b.set(3, RUNNING)
    assert b.has(3, RUNNING) and not b.has(3, SUCCESS)
    assert b.set(3, SEMISUC)
    assert b.has(3, SUCCESS) and not b.has(3, RUNNING)
    assert not b.set(3, FAILED)           # SUCCESS never changes
    assert b.pieces(SUCCESS) == [3]
    assert b.set(1, FAILED) and b.set(1, WAITING)
    assert not b.has(1, FAILED) and b.count(SUCCESS) == 1


def _store_with_task():
    s = ProgressStore()
    for n in range(4):
        s.sn_piece("t", n, f"md5-{n}:10")
    s.init_client("t", "c1", "p1")
    s.init_client("t", "c2", "p2")
    return s


def test_available_excludes_success_and_running():
    s = _store_with_task()
    assert s.available("t", "c1") == [0, 1, 2, 3]
    s.start_piece("c1", 0, "")
    s.update("c1", "p1", "", 1, SUCCESS)
    assert s.available("t", "c1") == [2, 3]
    assert s.piece_md5("t", 2) == "md5-2:10"


def test_loads_follow_running_entries_not_reports():
    s = _store_with_task()
    s.start_piece("c2", 0, "p1")
    s.start_piece("c1", 1, "")
    assert s.peer("p1").producer_load == 1 and s.superload("t") == 1
    assert s.in_flight("t", 0) == 1
    # SEMISUC then the piece/suc report: the load drops once, the holder is added by the SUCCESS
    assert s.update("c2", "p2", "p1", 0, SEMISUC)
    assert s.peer("p1").producer_load == 0 and s.in_flight("t", 0) == 0
    assert "p2" not in s.holders("t", 0)
    assert not s.update("c2", "p2", "p1", 0, SUCCESS)
    assert s.peer("p1").producer_load == 0 and "p2" in s.holders("t", 0)
    s.update("c1", "p1", "", 1, SUCCESS)
    assert s.superload("t") == 0


def test_failure_blacklists_and_counts_errors():
    s = _store_with_task()
    s.start_piece("c2", 0, "p1")
    s.update("c2", "p2", "p1", 0, FAILED)
    assert s.blacklisted("p2", "p1") and not s.blacklisted("p1", "p2")
    assert s.peer("p2").client_error_count == 1 and s.peer("p1").service_error_count == 1
    assert 0 in s.available("t", "c2")        # a failed piece is offered again
    assert not s.update("c2", "p2", "p1", 0, FAILED)         # a repeated report counts once
    assert s.blacklist["p2"]["p1"] == 1 and s.peer("p2").client_error_count == 1
    s.start_piece("c2", 0, "")
    s.update("c2", "p2", "p1", 0, SUCCESS)
    assert s.peer("p2").client_error_count == 0 and s.peer("p1").service_error_count == 0


def test_delete_client_and_peer_release_everything():
    s = _store_with_task()
    s.start_piece("c1", 0, "p2")
    s.start_piece("c1", 1, "")
    s.delete_client("c1")
    assert s.peer("p2").producer_load == 0 and s.superload("t") == 0 and s.in_flight("t", 0) == 0
    s.update("c2", "p2", "", 2, SUCCESS)
    s.blame("p1", "p2")
    s.delete_peer("p2")
    assert s.peer("p2") is None and "p2" not in s.holders("t", 2) and not s.blacklisted("p1", "p2")
    s.delete_task("t")
    assert s.client("c2") is None and s.available("t", "c2") == []


def test_supernode_sends_are_tracked_per_piece_until_released():
    from supernode.scheduler.progress import ProgressStore as Store
    now = [5.0]
    pr = Store(clock=lambda: now[0])
    pr.sn_piece("t", 0, "m:1")
    pr.init_client("t", "c1", "p1"), pr.init_client("t", "c2", "p2")
    assert pr.sn_sending_since("t", 0) is None
    pr.start_piece("c1", 0, "")
    now[0] = 7.0
    pr.start_piece("c2", 0, "")
    assert pr.sn_sending_since("t", 0) == 5.0
    pr.update("c1", "p1", "", 0, SUCCESS)
    assert pr.sn_sending_since("t", 0) is not None
    pr.delete_client("c2")
    assert pr.sn_sending_since("t", 0) is None
    assert not pr.sn_complete("t")
    pr.sn_finished("t")
    assert pr.sn_complete("t")


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as hs  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(hs.lists(hs.tuples(hs.integers(0, 300), hs.sampled_from([SEMISUC, WAITING, RUNNING, SUCCESS, FAILED])),
                max_size=80))
def test_bitset_masks_agree_with_a_status_per_piece(ops):
    """The three masks say what a plain piece -> status record says after any sequence of changes."""
    b, model = PieceBitset(), {}
    for piece, status in ops:
        final = model.get(piece) == SUCCESS
        assert b.set(piece, status) is (not final)
        if not final:
            model[piece] = SUCCESS if status == SEMISUC else status
    for status in (RUNNING, SUCCESS, FAILED):
        expected = sorted(p for p, st in model.items() if st == status)
        assert b.pieces(status) == expected and b.count(status) == len(expected)
        assert all(b.has(p, status) for p in expected)
    assert b.done == sum(1 << p for p, st in model.items() if st == SUCCESS)
