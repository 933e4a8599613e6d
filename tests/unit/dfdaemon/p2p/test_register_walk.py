import random

import pytest

from dfdaemon.p2p.locator import Locator, Node
from dfdaemon.p2p.register import Registrar, RegisterFailed
from dfdaemon.p2p.supernode_client import RegisterRequest, SupernodeClient
from tests.helpers import free_port

from .scripted_supernode import ScriptedSupernode, ok_register


@pytest.fixture
def nodes():
    made = []

    def make(*replies):
        sn = ScriptedSupernode({"/peer/registry": list(replies)})
        made.append(sn)
        return sn
    yield make
    for sn in made:
        sn.stop()


def request():
    return RegisterRequest(raw_url="http://o/f?a=1", task_url="http://o/f", cid="1.2.3.4-1-2.000", ip="1.2.3.4",
                           host_name="h", port=15001, path="/peer/file/f-1-2.000", version="v",
                           md5="abc", headers=["Authorization:Bearer x"], pattern="p2p")


def registrar(addresses, sleeps):
    loc = Locator([Node("127.0.0.1", int(a.split(":")[1])) for a in addresses], random.Random(0))
    loc._order = list(addresses)            # fixed walk order for the test
    return Registrar(SupernodeClient(timeout=2), loc, sleep=sleeps.append)


def test_register_body_keys_are_dfgets(nodes):
    sn = nodes(ok_register())
    reg = registrar([sn.node], []).register(request())
    assert reg.node == sn.node and reg.task_id == "t" * 64 and reg.piece_size == 4 << 20
    body = sn.calls[0][2]
    assert set(body) == {"rawUrl", "taskUrl", "cid", "ip", "hostName", "port", "path", "version", "md5",
                         "identifier", "callSystem", "headers", "dfdaemon", "insecure", "rootCAs", "taskId",
                         "fileLength", "asSeed", "superNodeIp", "pattern"}
    assert body["superNodeIp"] == "127.0.0.1" and body["headers"] == ["Authorization:Bearer x"]


def test_wait_auth_retries_same_node_three_times_then_moves_on(nodes):
    wait = (200, {"code": 609, "msg": "wait auth"})
    a = nodes(wait)
    b = nodes(ok_register())
    sleeps = []
    reg = registrar([a.node, b.node], sleeps).register(request())
    assert reg.node == b.node
    assert len(a.calls) == 4 and sleeps == [1.0, 1.0, 1.0]


def test_wait_auth_then_success_on_same_node(nodes):
    a = nodes((200, {"code": 609, "msg": "wait"}), ok_register())
    reg = registrar([a.node], []).register(request())
    assert reg.node == a.node and len(a.calls) == 2


def test_http_error_and_dead_node_fail_over(nodes):
    bad = nodes((500, {"code": 500, "message": "task register failed"}))
    good = nodes(ok_register())
    dead = f"127.0.0.1:{free_port()}"
    r = registrar([dead, bad.node, good.node], [])
    assert r.register(request()).node == good.node
    assert r.tried == [dead, bad.node, good.node]


@pytest.mark.parametrize("code", [608, 607])
def test_need_auth_and_unreachable_stop_the_walk(nodes, code):
    a = nodes((200, {"code": code, "msg": "no"}))
    b = nodes(ok_register())
    with pytest.raises(RegisterFailed) as ei:
        registrar([a.node, b.node], []).register(request())
    assert ei.value.code == code and not b.calls
    assert ei.value.needs_auth == (code == 608)


def test_all_nodes_failing_raises(nodes):
    a = nodes((200, {"code": 500, "msg": "cdn failed"}))
    with pytest.raises(RegisterFailed) as ei:
        registrar([a.node], []).register(request())
    assert ei.value.tried == [a.node]
