from registry_plugin.oci.challenge import parse_challenges, pick
from registry_plugin.oci.scope import Scope, merge_scopes, parse_scope, parse_scopes, scope_key
from dfcommon.errors import DfError
import pytest


def test_bearer_challenge_with_quoted_params():
    [c] = parse_challenges('Bearer realm="https://auth.example/token",service="registry.example",'
                           'scope="repository:samalba/my-app:pull,push"')
    assert c.scheme == "bearer"
    assert c.realm == "https://auth.example/token"
    assert c.service == "registry.example"
    assert c.scope == "repository:samalba/my-app:pull,push"


def test_error_param_and_spaces():
    [c] = parse_challenges('Bearer  realm = "https://a/t" , error="insufficient_scope", scope="x:y:pull"')
    assert c.realm == "https://a/t" and c.error == "insufficient_scope"


def test_escaped_quotes_and_commas_inside_quotes():
    [c] = parse_challenges(r'Basic realm="a \"quoted\", realm", charset="UTF-8"')
    assert c.scheme == "basic"
    assert c.realm == 'a "quoted", realm'
    assert c.params["charset"] == "UTF-8"


def test_several_challenges_in_one_header():
    cs = parse_challenges('Basic realm="harbor", Bearer realm="https://h/service/token",service="harbor-registry"')
    assert [c.scheme for c in cs] == ["basic", "bearer"]
    assert cs[1].service == "harbor-registry"
    assert pick(cs).scheme == "bearer"


def test_several_header_lines_and_token68():
    cs = parse_challenges(['Negotiate abc123==', 'Basic realm=plain'])
    assert cs[0].scheme == "negotiate" and cs[0].token68 == "abc123=="
    assert cs[1].realm == "plain"
    assert pick(cs).scheme == "basic"


def test_bare_scheme_and_garbage():
    assert [c.scheme for c in parse_challenges("Basic")] == ["basic"]
    assert parse_challenges("") == []
    assert parse_challenges(None) == []
    assert pick(parse_challenges("Bearer service=x")) is None  # bearer without realm is unusable


def test_unquoted_token_values_and_case():
    [c] = parse_challenges("BEARER Realm=http://r/t,Service=svc")
    assert c.scheme == "bearer" and c.realm == "http://r/t" and c.service == "svc"


def test_scope_grammar():
    s = parse_scope("repository:samalba/my-app:pull,push")
    assert s == Scope("repository", "samalba/my-app", ("pull", "push"))
    assert str(s) == "repository:samalba/my-app:pull,push"
    hp = parse_scope("repository:localhost:5000/app:pull")
    assert hp.name == "localhost:5000/app" and hp.actions == ("pull",)
    assert parse_scope("registry:catalog:*").actions == ("*",)
    assert parse_scope("repository(plugin):x/y:pull").type == "repository(plugin)"


def test_scope_lists_and_merge():
    scopes = parse_scopes("repository:a:pull repository:b:pull,push repository:a:push")
    assert [str(s) for s in merge_scopes(scopes)] == ["repository:a:pull,push", "repository:b:pull,push"]
    assert scope_key(parse_scopes("repository:a:push,pull")) == scope_key(parse_scopes("repository:a:pull repository:a:push"))
    assert Scope("repository", "a", ("*",)).covers(Scope("repository", "a", ("pull",)))
    assert not Scope("repository", "a", ("pull",)).covers(Scope("repository", "a", ("push",)))


@pytest.mark.parametrize("bad", ["", "repository", "repository:pull", ":a:pull"])
def test_bad_scopes(bad):
    with pytest.raises(DfError) as e:
        parse_scope(bad)
    assert e.value.code == "INVALID_PARAM"
