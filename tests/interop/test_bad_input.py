"""Point 6 of the interoperability checks: bad input from the Go side gives the same outcome through our
supernode as through the Go supernode 1.0.6 (exit code, failure and reason codes of the Go dfget, the HTTP
status of the registration), nothing is left at the output path, and both supernodes stay healthy."""
from __future__ import annotations

import os
import re

import pytest
import requests

from tests.fixtures.origin import make_file
from tests.interop.helpers import MiB, sha256_file

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
FAIL_LINE = re.compile(r"download FAIL\((\d+)\).*?reason:(\d+)")


def outcome(run) -> tuple[int, str, str]:
    """(exit code, FAIL code, reason code) of a finished Go dfget run."""
    m = FAIL_LINE.search(run.stdout)
    assert m, run.stdout
    return run.returncode, m.group(1), m.group(2)


@pytest.mark.parametrize("case", ["wrong_md5", "source_404"])
def test_go_dfget_bad_input_same_outcome_on_both_supernodes(case, origin, our_supernode, go_supernode, go_dfget,
                                                           tmp_path):
    digest = make_file(str(origin.root_path / "bad.bin"), 6 * MiB, seed=19)
    if case == "wrong_md5":
        url, extra = origin.url("bad.bin"), ["--notbs", "--md5", "0123456789abcdef0123456789abcdef"]
    else:
        url, extra = origin.url("missing.bin"), ["--notbs"]
    results = {}
    for label, sn in (("go", go_supernode), ("ours", our_supernode)):
        out = tmp_path / f"{label}-{case}.bin"
        run = go_dfget.run(url, str(out), [sn.node], extra, name=f"{label}-{case}", timeout=120)
        results[label] = outcome(run)
        assert run.returncode != 0
        assert not out.exists(), f"{label}: a failed download left {out}"
        assert not [f for f in os.listdir(tmp_path) if f.startswith(out.name) or ".tmp" in f], os.listdir(tmp_path)
    print(f"{case}: Go supernode {results['go']}, ours {results['ours']} (exit code, FAIL code, reason)")
    assert results["ours"] == results["go"]
    assert go_supernode.healthy() and our_supernode.healthy()
    good = go_dfget.run(origin.url("bad.bin"), str(tmp_path / "after.bin"), [our_supernode.node], ["--notbs"],
                        name=f"after-{case}", timeout=120)          # our supernode still serves downloads
    assert good.returncode == 0, good.stdout
    assert sha256_file(tmp_path / "after.bin") == digest


def test_registration_of_a_404_source_answers_like_the_go_supernode(origin, our_supernode, go_supernode):
    body = {"rawUrl": origin.url("missing.bin"), "taskUrl": origin.url("missing.bin"), "cid": "127.0.0.1-1-1.000",
            "ip": "127.0.0.1", "hostName": "interop", "port": 15999, "path": "/peer/file/missing", "version": "1.0.6"}
    answers = {}
    for label, sn in (("go", go_supernode), ("ours", our_supernode)):
        r = requests.post(sn.api + "/peer/registry", json=body, timeout=30)
        answers[label] = (r.status_code, r.json())
    print(f"404 source: Go supernode {answers['go']}, ours {answers['ours']}")
    assert answers["ours"][0] == answers["go"][0] == 500
    ours = answers["ours"][1]
    assert set(ours) == set(answers["go"][1]) == {"code", "message"}
    assert "404" in ours["message"] or "not found" in ours["message"]
    assert our_supernode.healthy()
