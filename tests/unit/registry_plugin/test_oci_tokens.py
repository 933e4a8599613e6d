import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from dfcommon.errors import DfError
from registry_plugin.oci.tokens import TokenVerifier, allows, decode_claims, expires_at, is_expired
from tests.fixtures.tokenserver import make_cert


@pytest.fixture(scope="module")
def keypair():
    key_pem, cert_pem, cert_der = make_cert("unit-issuer")
    return key_pem, cert_pem, cert_der


def mint(key_pem, cert_der=None, access=None, exp_in=300, iss="unit-issuer", aud="svc", kid=None):
    now = int(time.time())
    claims = {"iss": iss, "sub": "u", "aud": aud, "exp": now + exp_in, "nbf": now - 5, "iat": now,
              "access": access if access is not None else [
                  {"type": "repository", "name": "library/app", "actions": ["pull"]},
                  {"type": "repository", "name": "team/all", "actions": ["*"]}]}
    headers = {}
    if cert_der:
        headers["x5c"] = [base64.b64encode(cert_der).decode()]
    if kid:
        headers["kid"] = kid
    return jwt.encode(claims, key_pem, algorithm="RS256", headers=headers)


def test_allows_access_claim(keypair):
    tok = mint(keypair[0])
    assert allows(tok, "library/app", "pull")
    assert not allows(tok, "library/app", "push")
    assert not allows(tok, "library/other", "pull")
    assert allows(tok, "team/all", "push")
    assert not allows({"access": "garbage"}, "a", "pull")
    assert not allows({"access": [{"type": "registry", "name": "library/app", "actions": ["pull"]}]},
                      "library/app")
    assert not allows(mint(keypair[0], access=[]), "library/app")


def test_expiry_helpers(keypair):
    tok = mint(keypair[0], exp_in=-30)
    assert expires_at(tok) < time.time()
    assert is_expired(tok)
    assert not is_expired(tok, leeway=60)
    assert not is_expired({"sub": "x"})


def test_decode_rejects_garbage():
    with pytest.raises(DfError) as e:
        decode_claims("not.a.jwt")
    assert e.value.code == "UNAUTHORIZED"


def test_verify_with_cert_and_x5c(keypair):
    key_pem, cert_pem, cert_der = keypair
    v = TokenVerifier(certs_pem=cert_pem, issuer="unit-issuer", audience="svc")
    assert v.verify(mint(key_pem, cert_der))["sub"] == "u"
    assert v.verify(mint(key_pem))["sub"] == "u"  # no x5c: tried against the trusted certificate keys


def test_verify_rejects_untrusted_expired_wrong_aud_iss(keypair):
    key_pem, cert_pem, cert_der = keypair
    other_key, other_cert, other_der = make_cert("evil")
    v = TokenVerifier(certs_pem=cert_pem, issuer="unit-issuer", audience="svc", leeway=60)
    for bad in (mint(other_key, other_der), mint(other_key), mint(key_pem, cert_der, exp_in=-120),
                mint(key_pem, cert_der, aud="other"), mint(key_pem, cert_der, iss="evil")):
        with pytest.raises(DfError) as e:
            v.verify(bad)
        assert e.value.code == "UNAUTHORIZED"
    assert v.verify(mint(key_pem, cert_der, exp_in=-30))  # inside the 60 s leeway


def test_verify_with_public_key_and_jwks(keypair):
    key_pem = keypair[0]
    priv = serialization.load_pem_private_key(key_pem, None)
    pub_pem = priv.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    assert TokenVerifier(public_key_pem=pub_pem).verify(mint(key_pem))["iss"] == "unit-issuer"
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(priv.public_key()))
    jwk.update(kid="k1", alg="RS256", use="sig")
    v = TokenVerifier(jwks={"keys": [jwk]})
    assert v.verify(mint(key_pem, kid="k1"))["sub"] == "u"
    with pytest.raises(DfError):
        v.verify(mint(key_pem, kid="unknown"))


def test_verify_needs_a_key():
    with pytest.raises(ValueError):
        TokenVerifier()


def test_verify_rejects_hs256_confusion(keypair):
    cert_pem = keypair[1]
    forged = jwt.encode({"exp": int(time.time()) + 60}, "s" * 40, algorithm="HS256")
    with pytest.raises(DfError):
        TokenVerifier(certs_pem=cert_pem).verify(forged)


def _leaf_signed_by(ca_key_pem, ca_cert_pem, name="leaf"):
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    ca_key = serialization.load_pem_private_key(ca_key_pem, None)
    ca = x509.load_pem_x509_certificate(ca_cert_pem)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .sign(ca_key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, cert.public_bytes(serialization.Encoding.DER)


def test_x5c_chain_under_trusted_ca(keypair):
    ca_key, ca_pem, ca_der = keypair
    leaf_key, leaf_der = _leaf_signed_by(ca_key, ca_pem)
    v = TokenVerifier(certs_pem=ca_pem)
    assert v.verify(mint(leaf_key, leaf_der))["sub"] == "u"
    now = int(time.time())
    both = jwt.encode({"exp": now + 60, "sub": "c"}, leaf_key, algorithm="RS256",
                      headers={"x5c": [base64.b64encode(leaf_der).decode(), base64.b64encode(ca_der).decode()]})
    assert v.verify(both)["sub"] == "c"
    other_key, other_pem, _ = make_cert("other-ca")
    rogue_key, rogue_der = _leaf_signed_by(other_key, other_pem)
    with pytest.raises(DfError):
        v.verify(mint(rogue_key, rogue_der))
    broken = jwt.encode({"exp": now + 60}, rogue_key, algorithm="RS256",
                        headers={"x5c": [base64.b64encode(rogue_der).decode(), base64.b64encode(ca_der).decode()]})
    with pytest.raises(DfError) as e:  # a foreign leaf placed in front of the trusted CA
        v.verify(broken)
    assert "broken" in e.value.message
