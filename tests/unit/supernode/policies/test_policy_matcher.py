import pytest

from dfcommon.errors import DfError
from supernode.policies.matcher import expand_braces, glob_match, policy_matches, registry_host, validate_glob
from supernode.policies.models import Policy


@pytest.mark.parametrize("pattern,value,expected", [
    ("v*", "v1", True), ("v*", "v2.0.1", True), ("v*", "latest", False), ("v*", "v", True),
    ("**", "latest", True), ("*", "anything", True), ("v?", "v1", True), ("v?", "v10", False),
    ("v[0-9]*", "v9-rc", True), ("v[0-9]*", "vx", False), ("{v1,latest}", "latest", True),
    ("{v1,latest}", "v2", False), ("v{1,2}.*", "v2.3", True),
    ("library/*", "library/nginx", True), ("library/*", "library/a/b", False),
    ("library/**", "library/a/b", True), ("library/**", "library", True), ("library/**", "other/a", False),
    ("**/nginx", "nginx", True), ("**/nginx", "a/b/nginx", True), ("**/nginx", "a/nginx2", False),
    ("a/**/c", "a/c", True), ("a/**/c", "a/x/y/c", True), ("*", "library/nginx", False),
    ("**", "library/nginx", True), ("lib*/n*", "library/nginx", True), ("V*", "v1", False),
])
def test_glob_match(pattern, value, expected):
    assert glob_match(pattern, value) is expected


@pytest.mark.parametrize("pattern,message", [
    ("", "non-empty"), ("   ", "non-empty"), ("a**b", "whole path segment"), ("v{1,2", "unbalanced"),
    ("v[0-9", "unbalanced '['"), ("a//b", "empty path segment"), ("x" * 300, "longer"),
])
def test_bad_globs_are_rejected_with_a_clear_message(pattern, message):
    with pytest.raises(DfError) as e:
        validate_glob(pattern, "repository")
    assert e.value.http_status == 400 and message in e.value.message and "repository" in e.value.message


def test_tag_globs_have_no_slash():
    with pytest.raises(DfError, match="'/' is not allowed"):
        validate_glob("a/b", "tag", multi_segment=False)
    assert validate_glob(" v* ", "tag", multi_segment=False) == "v*"


def test_brace_expansion_nests():
    assert expand_braces("a{b,c{d,e}}") == ["ab", "acd", "ace"]


def test_registry_host_and_policy_match():
    assert registry_host("https://Reg.Example:5000/") == "reg.example:5000"
    assert registry_host("reg.example") == "reg.example"
    p = Policy(id="a1", name="p", registry="http://127.0.0.1:5000", repository="team/**", tag="v*")
    assert policy_matches(p, "127.0.0.1:5000", "team/app", "v3")
    assert not policy_matches(p, "127.0.0.1:5001", "team/app", "v3")
    assert not policy_matches(p, "127.0.0.1:5000", "other/app", "v3")
    assert not policy_matches(p, "127.0.0.1:5000", "team/app", "latest")
