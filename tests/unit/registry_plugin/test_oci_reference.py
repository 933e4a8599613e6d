import pytest

from dfcommon.errors import DfError
from registry_plugin.oci.reference import check_repository, parse_reference, valid_repository

D = "sha256:" + "a" * 64


@pytest.mark.parametrize("text,registry,repo,tag,digest", [
    ("alpine", "docker.io", "library/alpine", None, None),
    ("alpine:3.19", "docker.io", "library/alpine", "3.19", None),
    ("user/app", "docker.io", "user/app", None, None),
    ("docker.io/alpine", "docker.io", "library/alpine", None, None),
    ("index.docker.io/library/alpine:1", "docker.io", "library/alpine", "1", None),
    ("localhost/app", "localhost", "app", None, None),
    ("localhost:5000/a/b/c:v1", "localhost:5000", "a/b/c", "v1", None),
    ("127.0.0.1:5000/library/test:latest", "127.0.0.1:5000", "library/test", "latest", None),
    ("harbor.dev/proj/app@" + D, "harbor.dev", "proj/app", None, D),
    ("harbor.dev/proj/app:v2@" + D, "harbor.dev", "proj/app", "v2", D),
    ("[::1]:5000/app:x", "[::1]:5000", "app", "x", None),
    ("Registry/app", "registry", "app", None, None),
])
def test_parse(text, registry, repo, tag, digest):
    r = parse_reference(text)
    assert (r.registry, r.repository, r.tag, r.digest) == (registry, repo, tag, digest)


def test_ref_name_and_str():
    r = parse_reference("alpine")
    assert r.ref == "latest" and r.name == "docker.io/library/alpine" and r.api_host == "registry-1.docker.io"
    p = parse_reference("h.example:443/a/b:t@" + D)
    assert p.ref == D and str(p) == "h.example:443/a/b:t@" + D and p.api_host == "h.example:443"


def test_default_registry():
    r = parse_reference("proj/app:1", default_registry="harbor.dev")
    assert r.registry == "harbor.dev" and r.repository == "proj/app"


@pytest.mark.parametrize("bad", ["", " alpine", "app/UPPER", "app:", "app:-x", "a//b", "app@sha256:12",
                                 "a/-b", "a/b_", "x" * 300, "host:5000/", "app:" + "t" * 129])
def test_bad_references(bad):
    with pytest.raises(DfError) as e:
        parse_reference(bad)
    assert e.value.code in ("NAME_INVALID", "INVALID_PARAM", "DIGEST_INVALID")


def test_repository_grammar():
    for ok in ["a", "a/b", "a.b/c_d/e__f", "a-b---c", "library/test"]:
        assert valid_repository(ok)
    for bad in ["A", "a/", "_a", "a..b", "a___b", "a/b/", "a b"]:
        assert not valid_repository(bad)
    with pytest.raises(DfError):
        check_repository("../etc")
