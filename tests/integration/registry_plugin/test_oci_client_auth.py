"""Token and Basic auth against real docker-registry instances and the test token server."""
import pytest

from dfcommon.errors import DfError
from registry_plugin.oci import RegistryClient, TokenVerifier, allows, decode_claims, walk
from registry_plugin.oci.challenge import parse_challenges, pick
from registry_plugin.oci.credentials import BasicCredentials
from registry_plugin.oci.scope import repository_scope
from tests.fixtures.oci_image import build_oci_image, build_oci_index, read_blob

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def token_images(registry_token, tmp_path_factory):
    img = build_oci_image(str(tmp_path_factory.mktemp("timg")), tag="v1", layers=2, layer_size=200_000, seed=21)
    registry_token.push(img, "tok/app")
    registry_token.push(img, "secret/app")
    idx = build_oci_index(str(tmp_path_factory.mktemp("tidx")), tag="m", layers=1, layer_size=20_000, seed=22)
    registry_token.push(idx, "tok/multi")
    return {"img": img, "idx": idx}


@pytest.fixture(scope="module")
def basic_image(registry_basic, tmp_path_factory):
    img = build_oci_image(str(tmp_path_factory.mktemp("bimg")), tag="v1", layers=1, layer_size=100_000, seed=23)
    registry_basic.push(img, "basic/app")
    return img


def _token_gets(ts):
    return [r for r in ts.requests if r.path == "/token"]


def test_anonymous_token_flow(registry_token, token_images, token_server):
    img = token_images["img"]
    c = RegistryClient(registry_token.url)
    assert c.ping()
    got = c.get_manifest("tok/app", "v1")
    assert got.content == img.manifest_bytes
    reqs = _token_gets(token_server)
    assert [(r.method, r.user) for r in reqs] == [("GET", ""), ("GET", "")]
    assert reqs[0].scopes == [] and reqs[1].scopes == ["repository:tok/app:pull"]
    assert reqs[1].service == "test-registry"


def test_token_cached_per_scope(registry_token, token_images, token_server):
    img = token_images["img"]
    c = RegistryClient(registry_token.url)
    c.get_manifest("tok/app", "v1")
    for b in img.blobs:
        with c.get_blob("tok/app", b.digest) as blob:
            assert b"".join(blob) == read_blob(img, b.digest)
    c.head_manifest("tok/app", "v1")
    assert token_server.count() == 1
    c.get_manifest("secret/app", "v1")
    assert token_server.count() == 2
    c.get_manifest("tok/app", img.manifest.digest)
    assert token_server.count() == 2


def test_post_form_with_credentials(registry_token, token_images, token_server):
    c = RegistryClient(registry_token.url, credentials=("testuser", "testpass"))
    c.get_manifest("tok/app", "v1")
    [r] = token_server.requests
    assert (r.method, r.grant_type, r.user) == ("POST", "password", "testuser")
    assert r.params["client_id"] and r.scopes == ["repository:tok/app:pull"]


def test_get_with_basic_credentials(registry_token, token_images, token_server):
    c = RegistryClient(registry_token.url, credentials=("testuser", "testpass"), token_method="get")
    c.get_manifest("tok/app", "v1")
    [r] = token_server.requests
    assert (r.method, r.user, r.params.get("account")) == ("GET", "testuser", "testuser")


def test_post_falls_back_to_get(registry_token, token_images, token_server):
    token_server.settings.post_status = 405
    c = RegistryClient(registry_token.url, credentials=("testuser", "testpass"))
    assert c.get_manifest("tok/app", "v1").digest == token_images["img"].manifest.digest
    assert [(r.method, r.user) for r in token_server.requests] == [("POST", "testuser"), ("GET", "testuser")]


def test_wrong_password(registry_token, token_images, token_server):
    c = RegistryClient(registry_token.url, credentials=("testuser", "wrong"))
    with pytest.raises(DfError) as e:
        c.get_manifest("tok/app", "v1")
    assert e.value.code == "UNAUTHORIZED"


def test_denied_without_permission(registry_token, token_images, token_server):
    token_server.permissions[""] = {"tok/*": ["pull"]}
    anon = RegistryClient(registry_token.url)
    with pytest.raises(DfError) as e:
        anon.get_manifest("secret/app", "v1")
    assert e.value.code == "DENIED"
    assert "insufficient_scope" in e.value.detail["www_authenticate"]
    user = RegistryClient(registry_token.url, credentials=("testuser", "testpass"))
    assert user.get_manifest("secret/app", "v1").digest == token_images["img"].manifest.digest


def test_rejected_cached_token_is_renewed_once(registry_token, token_images, token_server):
    """The token server says 300 s but signs an already expired JWT: the registry refuses it,
    the client drops the cached token, asks again once, and fails; a good token then works."""
    token_server.settings.lifetime = -300
    c = RegistryClient(registry_token.url)
    with pytest.raises(DfError) as e:
        c.get_manifest("tok/app", "v1")
    assert e.value.code == "UNAUTHORIZED"
    assert token_server.count() == 1
    with pytest.raises(DfError):
        c.get_manifest("tok/app", "v1")
    assert token_server.count() == 2  # cached bad token refused -> exactly one new request
    token_server.settings.lifetime = None
    assert c.get_manifest("tok/app", "v1").content == token_images["img"].manifest_bytes
    assert token_server.count() == 3


def test_issued_tokens_carry_access(registry_token, token_images, token_server):
    c = RegistryClient(registry_token.url)
    c.get_manifest("tok/app", "v1")
    challenge = pick(parse_challenges(f'Bearer realm="{token_server.realm}",service="test-registry"'))
    tok = c.auth.token(challenge, [repository_scope("tok/app")], None).token
    assert allows(tok, "tok/app", "pull") and not allows(tok, "tok/app", "push")
    assert decode_claims(tok)["aud"] == "test-registry"
    verifier = TokenVerifier.from_files(cert_file=token_server.cert_path, issuer=token_server.issuer,
                                        audience="test-registry")
    assert verifier.verify(tok)["access"][0]["name"] == "tok/app"


def test_walk_through_token_registry(registry_token, token_images, token_server):
    c = RegistryClient(registry_token.url, credentials=("testuser", "testpass"))
    idx = token_images["idx"]
    got = [b.digest for b in walk(c, "tok/multi", "m", platforms=["linux/amd64"])]
    assert got == [b.digest for b in idx.images["linux/amd64"].blobs]
    assert token_server.count() == 1


def test_basic_only_registry(registry_basic, basic_image, counting_front):
    front = counting_front(registry_basic)
    anon = RegistryClient(front.url)
    with pytest.raises(DfError) as e:
        anon.ping()
    assert e.value.code == "UNAUTHORIZED"
    c = RegistryClient(front.url, credentials=registry_basic.credentials)
    assert c.ping()
    got = c.get_manifest("basic/app", "v1")
    assert got.content == basic_image.manifest_bytes
    layer = basic_image.layers[0]
    with c.get_blob("basic/app", layer.digest) as b:
        assert b"".join(b) == read_blob(basic_image, layer.digest)
    mine = [r for r in front.requests if r.path.startswith("/v2/basic/")]
    assert mine and all(dict((k.lower(), v) for k, v in r.headers).get("authorization", "").startswith("Basic ")
                        for r in mine)
    bad = RegistryClient(front.url, credentials=("testuser", "nope"))
    with pytest.raises(DfError) as e:
        bad.get_manifest("basic/app", "v1")
    assert e.value.code == "UNAUTHORIZED"


def test_redirect_to_storage_without_registry_auth(registry_basic, basic_image, counting_front):
    creds = registry_basic.credentials
    front = counting_front(registry_basic, redirect_host="localhost",
                           storage_auth=BasicCredentials(*creds).basic_header())
    c = RegistryClient(front.url, credentials=creds)
    assert c.ping()  # learns the Basic challenge: the blob GET below carries Authorization
    layer = basic_image.layers[0]
    with c.get_blob("basic/app", layer.digest) as b:
        assert b"".join(b) == read_blob(basic_image, layer.digest)
    assert front.presigned_with_auth == 0
    assert front.served(layer.digest) == 1
    hops = [(r.status, dict((k.lower(), v) for k, v in r.headers)) for r in front.requests if "/blobs/" in r.path]
    assert [st for st, _ in hops] == [307, 200]
    assert hops[0][1]["authorization"].startswith("Basic ") and "authorization" not in hops[1][1]
    assert hops[1][1]["host"].startswith("localhost:")
