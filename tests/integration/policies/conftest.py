"""Real supernode processes (the ``supernode`` console script with a YAML config including ``policies:``)
over one home directory, so a test can stop one and start the next against the same policy database."""
from __future__ import annotations

import time

import pytest

from tests.fixtures.supernode_config import ConfiguredSupernode

TERMINAL = ("succeeded", "failed", "partial", "missed")


class PolicySupernode(ConfiguredSupernode):
    """``policies:`` in its config; new ports at every start, the same home (and policy database)."""

    def __init__(self, workdir, policies: dict | None = None):
        super().__init__(workdir, fresh_ports=True, stop_timeout=15.0)
        self.policies = dict(policies or {})

    def sections(self) -> dict:
        return {"policies": {"poll_interval": "200ms", **self.policies}}

    def api(self, method: str, path: str, **kw):
        return self.http.request(method, self.url + "/api/v1" + path, timeout=(3, 30), **kw)

    def wait_runs(self, policy_id: str, count: int = 1, timeout: float = 90.0) -> list[dict]:
        """The policy's runs once ``count`` of them are finished."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.api("GET", f"/policies/{policy_id}/runs").json()
            done = [r for r in runs if r["status"] in TERMINAL]
            if len(done) >= count:
                return done
            time.sleep(0.2)
        raise AssertionError(f"no finished run of {policy_id}: {self.log_tail()}")


@pytest.fixture
def supernode_proc(tmp_path):
    """``supernode_proc(policies={...})``; the same object can be stopped and started again."""
    made = []

    def make(**policies) -> PolicySupernode:
        sn = PolicySupernode(tmp_path / f"sn{len(made)}", policies)
        made.append(sn)
        return sn

    yield make
    for sn in made:
        sn.stop()


@pytest.fixture(scope="module")
def tagged_repo(registry_plain, tmp_path_factory):
    """``policies/app`` in a real registry with tags v1, v2 and latest (distinct one-layer images)."""
    from tests.fixtures.oci_image import build_oci_image
    for seed, tag in enumerate(("v1", "v2", "latest"), start=71):
        image = build_oci_image(str(tmp_path_factory.mktemp(f"img-{tag}")), tag=tag, layers=1,
                                layer_size=64 << 10, seed=seed)
        registry_plain.push(image, "policies/app", tag)
    return registry_plain, "policies/app"
