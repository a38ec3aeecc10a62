"""ServiceAccount JWTs: issue/verify round trips, kube's rejection wordings, hostile input,
key files and the OIDC discovery documents."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import stat
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from strom.auth import serviceaccount as sa
from strom.auth.serviceaccount import (
    BoundRef,
    InvalidToken,
    LiveObject,
    ServiceAccountClaims,
    ServiceAccountKeyError,
    TokenIssuer,
    TokenVerifier,
)

ISSUER = "https://kubernetes.default.svc.cluster.local"
AUDS = [ISSUER]
NOW = 1_700_000_000.25


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return json.loads(unb64(header)), json.loads(unb64(payload))


def issue(issuer: TokenIssuer, **overrides: Any) -> str:
    args: dict[str, Any] = {
        "namespace": "default",
        "sa_name": "builder",
        "sa_uid": "sa-uid-1",
        "audiences": AUDS,
        "expiration_seconds": 3600,
        "now": NOW,
    }
    args.update(overrides)
    token, _ = issuer.issue(**args)
    return token


def verifier(*keys: Any, auds: list[str] | None = None) -> TokenVerifier:
    return TokenVerifier([k.public_key() for k in keys], [ISSUER], AUDS if auds is None else auds)


def rejected(v: TokenVerifier, token: str, now: float = NOW, **kw: Any) -> str:
    with pytest.raises(InvalidToken) as info:
        v.verify(token, now, **kw)
    return str(info.value)


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("key_name, alg", [("rsa_key", "RS256"), ("ec_key", "ES256")])
def test_round_trip(request: pytest.FixtureRequest, key_name: str, alg: str) -> None:
    key = request.getfixturevalue(key_name)
    issuer = TokenIssuer(key, ISSUER)
    token, exp = issuer.issue(
        namespace="default",
        sa_name="builder",
        sa_uid="sa-uid-1",
        audiences=AUDS,
        expiration_seconds=3600,
        now=NOW,
    )
    assert exp == 1_700_000_000 + 3600
    header, payload = parts(token)
    assert header == {"alg": alg, "kid": sa.key_id(key.public_key())}
    assert list(payload) == sorted(payload)  # go-jose serialises claims in key order
    assert payload["iss"] == ISSUER
    assert payload["sub"] == "system:serviceaccount:default:builder"
    assert payload["aud"] == AUDS
    assert payload["iat"] == payload["nbf"] == 1_700_000_000
    assert payload["exp"] == exp
    assert len(payload["jti"]) == 36
    assert payload["kubernetes.io"] == {
        "namespace": "default",
        "serviceaccount": {"name": "builder", "uid": "sa-uid-1"},
    }

    claims = verifier(key).verify(token, NOW + 10)
    assert claims == ServiceAccountClaims(
        namespace="default",
        name="builder",
        uid="sa-uid-1",
        token_id=payload["jti"],
        expires=exp,
        audiences=tuple(AUDS),
    )
    assert claims.username == "system:serviceaccount:default:builder"
    assert claims.groups == ("system:serviceaccounts", "system:serviceaccounts:default")
    assert claims.extra() == {
        "authentication.kubernetes.io/credential-id": [f"JTI={payload['jti']}"]
    }
    assert claims.objects_to_check() == (("serviceaccounts", "default", "builder"),)


def test_pod_bound_claims_and_extras(rsa_key: rsa.RSAPrivateKey) -> None:
    issuer = TokenIssuer(rsa_key, ISSUER)
    token = issue(
        issuer,
        pod=BoundRef("web-0", "pod-uid"),
        node=BoundRef("node-a", "node-uid"),
        warn_after=3607,
        jti="fixed-jti",
    )
    _, payload = parts(token)
    assert payload["jti"] == "fixed-jti"
    assert payload["kubernetes.io"] == {
        "namespace": "default",
        "node": {"name": "node-a", "uid": "node-uid"},
        "pod": {"name": "web-0", "uid": "pod-uid"},
        "serviceaccount": {"name": "builder", "uid": "sa-uid-1"},
        "warnafter": 1_700_000_000 + 3607,
    }
    claims = verifier(rsa_key).verify(token, NOW)
    assert claims is not None
    assert claims.pod == BoundRef("web-0", "pod-uid")
    assert claims.node == BoundRef("node-a", "node-uid")
    assert claims.extra() == {
        "authentication.kubernetes.io/pod-name": ["web-0"],
        "authentication.kubernetes.io/pod-uid": ["pod-uid"],
        "authentication.kubernetes.io/credential-id": ["JTI=fixed-jti"],
        "authentication.kubernetes.io/node-name": ["node-a"],
        "authentication.kubernetes.io/node-uid": ["node-uid"],
    }
    # A pod-bound token's node is informational: only the SA and the pod are checked.
    assert claims.objects_to_check() == (
        ("serviceaccounts", "default", "builder"),
        ("pods", "default", "web-0"),
    )
    assert claims.stale_token_annotation(NOW) is None
    assert claims.stale_token_annotation(1_700_000_000 + 3607 + 5) == (
        "subject: system:serviceaccount:default:builder, seconds after warning threshold: 5"
    )


def test_secret_and_node_bindings(rsa_key: rsa.RSAPrivateKey) -> None:
    issuer = TokenIssuer(rsa_key, ISSUER)
    with pytest.raises(ValueError, match="only be bound to one object type"):
        issue(issuer, secret=BoundRef("s", "1"), pod=BoundRef("p", "2"))
    v = verifier(rsa_key)
    node_only = v.verify(issue(issuer, node=BoundRef("node-a", "n1")), NOW)
    assert node_only is not None
    assert node_only.objects_to_check()[-1] == ("nodes", "", "node-a")
    secret = v.verify(issue(issuer, secret=BoundRef("s", "s1")), NOW)
    assert secret is not None and secret.secret == BoundRef("s", "s1")
    assert secret.extra() == {
        "authentication.kubernetes.io/credential-id": [f"JTI={secret.token_id}"]
    }


# --------------------------------------------------------------------------- kube's rejections


def test_expired_with_leeway(rsa_key: rsa.RSAPrivateKey) -> None:
    token = issue(TokenIssuer(rsa_key, ISSUER), expiration_seconds=600)
    v = verifier(rsa_key)
    exp = 1_700_000_000 + 600
    assert v.verify(token, exp + 60) is not None  # go-jose's one-minute leeway
    assert rejected(v, token, exp + 61) == "service account token has expired"


def test_not_yet_valid_and_issued_in_future(rsa_key: rsa.RSAPrivateKey) -> None:
    token = issue(TokenIssuer(rsa_key, ISSUER))
    v = verifier(rsa_key)
    assert v.verify(token, NOW - 60) is not None
    assert rejected(v, token, NOW - 61.5) == "service account token is not valid yet"
    future = jwt.encode(
        {"iss": ISSUER, "aud": AUDS, "nbf": NOW - 10, "iat": NOW + 600},
        rsa_key,
        algorithm="RS256",
        headers={"kid": sa.key_id(rsa_key)},
    )
    assert rejected(v, future) == "service account token is issued in the future"


def test_wrong_audience(rsa_key: rsa.RSAPrivateKey) -> None:
    token = issue(TokenIssuer(rsa_key, ISSUER), audiences=["vault"])
    v = verifier(rsa_key)
    assert rejected(v, token) == (
        'token audiences ["vault"] is invalid for the target audiences'
        ' ["https://kubernetes.default.svc.cluster.local"]'
    )
    # Asked for explicitly (TokenReview spec.audiences), the same token is good.
    assert v.verify(token, NOW, audiences=["other", "vault"]) is not None
    assert rejected(v, token, audiences=["a", "b"]) == (
        'token audiences ["vault"] is invalid for the target audiences ["a" "b"]'
    )
    # No API audiences configured: kube skips the check.
    assert verifier(rsa_key, auds=[]).verify(token, NOW) is not None


def test_audience_check_comes_before_expiry(rsa_key: rsa.RSAPrivateKey) -> None:
    token = issue(TokenIssuer(rsa_key, ISSUER), audiences=["vault"], expiration_seconds=600)
    assert "is invalid for the target audiences" in rejected(verifier(rsa_key), token, NOW + 9999)


def test_wrong_key(rsa_key: rsa.RSAPrivateKey, other_rsa_key: rsa.RSAPrivateKey) -> None:
    token = issue(TokenIssuer(other_rsa_key, ISSUER))
    v = verifier(rsa_key)
    # The kid names a key we don't have.
    assert rejected(v, token) == "invalid signature, no keys found"
    # Same kid as ours but another key's signature: go-jose's crypto failure.
    _, payload, signature = token.split(".")
    forged_header = b64(json.dumps({"alg": "RS256", "kid": sa.key_id(rsa_key)}).encode())
    forged = f"{forged_header}.{payload}.{signature}"
    assert rejected(v, forged) == "go-jose/go-jose: error in cryptographic primitive"
    # No kid: every key is tried; identical errors collapse into one message.
    bare = jwt.encode(json.loads(unb64(payload)), other_rsa_key, algorithm="RS256")
    assert rejected(v, bare) == "go-jose/go-jose: error in cryptographic primitive"
    same_twice = TokenVerifier([rsa_key.public_key(), rsa_key.public_key()], [ISSUER], AUDS)
    assert rejected(same_twice, forged) == "go-jose/go-jose: error in cryptographic primitive"
    assert rejected(same_twice, bare) == "go-jose/go-jose: error in cryptographic primitive"
    # Either key verifies when both are trusted (rotation).
    assert verifier(rsa_key, other_rsa_key).verify(token, NOW) is not None
    assert verifier(rsa_key, other_rsa_key).verify(bare, NOW) is not None


def test_other_issuer_is_not_ours(rsa_key: rsa.RSAPrivateKey) -> None:
    token = issue(TokenIssuer(rsa_key, "https://elsewhere.example"))
    assert verifier(rsa_key).verify(token, NOW) is None
    multi = TokenVerifier([rsa_key.public_key()], [ISSUER, "https://elsewhere.example"], AUDS)
    assert multi.verify(token, NOW) is not None


def test_alg_none(rsa_key: rsa.RSAPrivateKey) -> None:
    token = issue(TokenIssuer(rsa_key, ISSUER))
    _, payload, _ = token.split(".")
    for header in ({"alg": "none"}, {"alg": "none", "kid": sa.key_id(rsa_key)}, {}):
        unsigned = f"{b64(json.dumps(header).encode())}.{payload}."
        assert rejected(verifier(rsa_key), unsigned) == sa.ERR_CRYPTO


def test_hs256_with_public_key_as_secret(rsa_key: rsa.RSAPrivateKey) -> None:
    """Algorithm confusion: an HMAC over the token keyed with our public key."""
    token = issue(TokenIssuer(rsa_key, ISSUER))
    _, payload, _ = token.split(".")
    pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    der = rsa_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for secret in (pem, der):
        header = b64(json.dumps({"alg": "HS256", "kid": sa.key_id(rsa_key)}).encode())
        signing_input = f"{header}.{payload}".encode()
        mac = hmac.new(secret, signing_input, hashlib.sha256).digest()
        assert rejected(verifier(rsa_key), f"{header}.{payload}.{b64(mac)}") == sa.ERR_CRYPTO


def test_ec_token_with_rsa_alg_and_curve_mismatch(ec_key: ec.EllipticCurvePrivateKey) -> None:
    token = issue(TokenIssuer(ec_key, ISSUER))
    _, payload, signature = token.split(".")
    for alg in ("RS256", "ES384", "HS256"):
        header = b64(json.dumps({"alg": alg, "kid": sa.key_id(ec_key)}).encode())
        assert rejected(verifier(ec_key), f"{header}.{payload}.{signature}") == sa.ERR_CRYPTO


def test_tampered_payload(rsa_key: rsa.RSAPrivateKey) -> None:
    token = issue(TokenIssuer(rsa_key, ISSUER))
    header, payload, signature = token.split(".")
    claims = json.loads(unb64(payload))
    claims["kubernetes.io"]["serviceaccount"]["name"] = "admin"
    tampered = f"{header}.{b64(json.dumps(claims).encode())}.{signature}"
    assert rejected(verifier(rsa_key), tampered) == sa.ERR_CRYPTO


def test_malformed_claims_signed_by_us(rsa_key: rsa.RSAPrivateKey) -> None:
    """Claims of the wrong JSON type fail as go-jose's unmarshalling does, even when signed."""
    kid = sa.key_id(rsa_key)
    v = verifier(rsa_key)

    def signed(claims: dict[str, Any]) -> str:
        return jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": kid})

    base: dict[str, Any] = {"iss": ISSUER, "aud": AUDS, "exp": NOW + 600}
    assert rejected(v, signed({**base, "exp": "soon"})) == (
        "go-jose/go-jose/jwt: expected number value to unmarshal NumericDate"
    )
    assert rejected(v, signed({**base, "aud": 7})) == (
        "go-jose/go-jose/jwt: expected string or array value to unmarshal to Audience"
    )
    assert rejected(v, signed({**base, "kubernetes.io": "x"})) == (
        "json: cannot unmarshal string into Go value of type serviceaccount.kubernetes"
    )
    assert rejected(v, signed({**base, "kubernetes.io": {"pod": [1]}})) == (
        "json: cannot unmarshal array into Go value of type serviceaccount.ref"
    )
    assert rejected(v, signed({**base, "sub": True})) == (
        "json: cannot unmarshal bool into Go value of type string"
    )
    # Go's peek at iss matches keys case-insensitively; a non-string one makes it not ours.
    assert v.verify(signed({**base, "ISS": 1}), NOW) is None
    # iss matched case-insensitively by the peek, then exactly: kube's sanity check.
    no_exact = {"ISS": ISSUER, "aud": AUDS}
    assert rejected(v, signed(no_exact)) == 'token issuer "" is invalid'
    # Missing private claims are not this module's business: the lookups fail later.
    empty = v.verify(signed(base), NOW)
    assert empty is not None and (empty.namespace, empty.name, empty.uid) == ("", "", "")


# --------------------------------------------------------------------------- hostile input


def test_truncated_tokens(rsa_key: rsa.RSAPrivateKey) -> None:
    token = issue(TokenIssuer(rsa_key, ISSUER))
    v = verifier(rsa_key)
    header, payload, signature = token.split(".")
    # Cut into the signature: still ours, but the signature no longer verifies...
    for cut in (2, 3, 10, len(signature) - 2):
        assert rejected(v, f"{header}.{payload}.{signature[:cut]}") == sa.ERR_CRYPTO
    assert rejected(v, f"{header}.{payload}.") == sa.ERR_CRYPTO
    # ...unless what is left is not base64 at all (jwt.ParseSigned fails: not ours).
    for cut in range(len(signature)):
        with contextlib.suppress(InvalidToken):
            assert v.verify(f"{header}.{payload}.{signature[:cut]}", NOW) is None
    # Cut anywhere before: no longer a parseable JWT of ours.
    for end in range(0, len(header) + len(payload) + 1, 7):
        assert v.verify(token[:end], NOW) is None


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        ".",
        "..",
        "...",
        "a.b.c",
        "not a jwt",
        "{}",
        ' {"iss": "x"}',
        "====.====.====",
        "\x00\x01\x02.\xff.\u2603",
        "Bearer eyJhbGciOiJSUzI1NiJ9",
        "eyJhbGciOiJSUzI1NiJ9..",
        f"e30.{b64(b'[1,2]')}.e30",  # payload not an object
        f"e30.{b64(b'null')}.e30",
        f"e30.{b64(json.dumps({'iss': 5}).encode())}.e30",
        f"e30.{b64(json.dumps({'iss': ISSUER}).encode())}=.e30",  # padded payload
        "e30." + b64(b'{"iss": NaN}') + ".e30",
        "x" * 5000,
        "." * 5000,
    ],
)
def test_garbage_is_not_ours(rsa_key: rsa.RSAPrivateKey, garbage: str) -> None:
    assert verifier(rsa_key).verify(garbage, NOW) is None


@pytest.mark.parametrize(
    "header",
    [
        "",  # empty header
        "!!!!",  # not base64
        b64(b"not json"),
        b64(b"[]"),
        b64(json.dumps({"alg": "RS256", "kid": 12}).encode()),
    ],
)
def test_unparseable_header_with_our_issuer(rsa_key: rsa.RSAPrivateKey, header: str) -> None:
    """jwt.ParseSigned failing is "not mine" in kube, even with our iss."""
    token = issue(TokenIssuer(rsa_key, ISSUER))
    _, payload, signature = token.split(".")
    assert verifier(rsa_key).verify(f"{header}.{payload}.{signature}", NOW) is None


def test_hostile_payloads_with_our_issuer(rsa_key: rsa.RSAPrivateKey) -> None:
    """Anything claiming our issuer is ours: every failure is InvalidToken, never a crash."""
    v = verifier(rsa_key)
    header = b64(json.dumps({"alg": "RS256", "kid": sa.key_id(rsa_key)}).encode())
    iss = json.dumps(ISSUER)
    payloads = [
        f'{{"iss": {iss}}}',
        f'{{"iss": {iss}, "deep": {"[" * 3000}1{"]" * 3000}}}',
        f'{{"iss": {iss}, "aud": [null], "exp": 1e400}}',
        f'{{"iss": {iss}, "kubernetes.io": {{"serviceaccount": 5}}}}',
        f'{{"iss": {iss}, "exp": 1e999999}}',
        f'{{"iss": {iss}, "iat": {"9" * 5000}}}',
    ]
    for text in payloads:
        body = b64(text.encode())
        for signature in ("", "AAAA", b64(b"\x00" * 256), "!!"):
            try:
                result = v.verify(f"{header}.{body}.{signature}", NOW)
            except InvalidToken:
                continue
            assert result is None


def test_huge_token_rejected_early(rsa_key: rsa.RSAPrivateKey) -> None:
    token = issue(TokenIssuer(rsa_key, ISSUER))
    header, payload, signature = token.split(".")
    claims = json.loads(unb64(payload))
    claims["padding"] = "x" * (100 * 1024)
    huge = f"{header}.{b64(json.dumps(claims).encode())}.{signature}"
    assert len(huge) > 100 * 1024
    assert verifier(rsa_key).verify(huge, NOW) is None
    assert verifier(rsa_key).verify("A" * (100 * 1024), NOW) is None


def test_non_string_token(rsa_key: rsa.RSAPrivateKey) -> None:
    v = verifier(rsa_key)
    assert v.verify(b"abc.def.ghi", NOW) is None  # type: ignore[arg-type]
    assert v.verify(None, NOW) is None  # type: ignore[arg-type]


# --------------------------------------------------------------------------- legacy tokens


def test_legacy_round_trip(rsa_key: rsa.RSAPrivateKey) -> None:
    token = TokenIssuer(rsa_key, ISSUER).issue_legacy("default", "builder", "sa-uid-1", "tok-x")
    header, payload = parts(token)
    assert header == {"alg": "RS256", "kid": sa.key_id(rsa_key)}
    assert payload == {
        "iss": "kubernetes/serviceaccount",
        "kubernetes.io/serviceaccount/namespace": "default",
        "kubernetes.io/serviceaccount/secret.name": "tok-x",
        "kubernetes.io/serviceaccount/service-account.name": "builder",
        "kubernetes.io/serviceaccount/service-account.uid": "sa-uid-1",
        "sub": "system:serviceaccount:default:builder",
    }
    assert list(payload) == sorted(payload)
    v = verifier(rsa_key)
    claims = v.verify(token, NOW + 10 * 365 * 86400)  # no expiry
    assert claims == ServiceAccountClaims(
        namespace="default",
        name="builder",
        uid="sa-uid-1",
        secret=BoundRef("tok-x", ""),
        legacy=True,
    )
    assert claims.extra() == {}
    assert claims.username == "system:serviceaccount:default:builder"
    assert claims.objects_to_check() == (
        ("secrets", "default", "tok-x"),
        ("serviceaccounts", "default", "builder"),
    )
    # Legacy tokens carry no aud: they are good for the API audiences.
    assert v.verify(token, NOW, audiences=AUDS) is not None
    assert "is invalid for the target audiences" in rejected(v, token, audiences=["vault"])
    legacy_off = TokenVerifier([rsa_key.public_key()], [ISSUER], AUDS, legacy=False)
    assert legacy_off.verify(token, NOW) is None


def test_legacy_claim_checks(rsa_key: rsa.RSAPrivateKey) -> None:
    issuer = TokenIssuer(rsa_key, ISSUER)
    v = verifier(rsa_key)
    assert rejected(v, issuer.issue_legacy("", "b", "u", "s")) == "namespace claim is missing"
    assert rejected(v, issuer.issue_legacy("ns", "b", "u", "")) == "secretName claim is missing"
    assert rejected(v, issuer.issue_legacy("ns", "", "u", "s")) == (
        "serviceAccountName claim is missing"
    )
    assert rejected(v, issuer.issue_legacy("ns", "b", "", "s")) == (
        "serviceAccountUID claim is missing"
    )
    assert rejected(v, issuer.issue_legacy("NS", "b", "u", "s")) == "sub claim is invalid"


# --------------------------------------------------------------------------- live objects


def test_bound_object_errors() -> None:
    claims = ServiceAccountClaims(
        namespace="ns", name="sa", uid="u1", pod=BoundRef("p", "p1"), token_id="j"
    )
    err = sa.bound_object_error
    assert err(claims, "serviceaccounts", LiveObject("u1"), now=NOW) is None
    assert err(claims, "serviceaccounts", None, now=NOW) == 'serviceaccounts "sa" not found'
    assert err(claims, "serviceaccounts", LiveObject("u2"), now=NOW) == (
        "service account UID (u2) does not match claim (u1)"
    )
    assert err(claims, "serviceaccounts", LiveObject("u1", NOW - 30), now=NOW) is None
    assert err(claims, "serviceaccounts", LiveObject("u1", NOW - 61), now=NOW) == (
        "service account ns/sa has been deleted"
    )
    assert err(claims, "pods", None, now=NOW) == "service account token has been invalidated"
    assert err(claims, "pods", LiveObject("p2"), now=NOW) == (
        "pod UID (p2) does not match service account pod ref claim (p1)"
    )
    assert err(claims, "pods", LiveObject("p1", NOW - 61), now=NOW) == sa.TOKEN_INVALIDATED
    with pytest.raises(ValueError):
        err(claims, "secrets", None, now=NOW)

    legacy = ServiceAccountClaims(
        namespace="ns", name="sa", uid="u1", secret=BoundRef("s", ""), legacy=True
    )
    assert err(legacy, "secrets", None, now=NOW) == "Token has been invalidated"
    assert err(legacy, "secrets", LiveObject("x", NOW), now=NOW) == "Token has been invalidated"
    assert err(legacy, "secrets", LiveObject("x"), now=NOW) is None
    assert err(legacy, "serviceaccounts", LiveObject("u1", NOW), now=NOW) == (
        "ServiceAccount ns/sa has been deleted"
    )
    assert err(legacy, "serviceaccounts", LiveObject("u9"), now=NOW) == (
        "ServiceAccount UID (u9) does not match claim (u1)"
    )
    assert sa.legacy_token_mismatch("abc", b"abc") is None
    assert sa.legacy_token_mismatch("abc", b"abd") == "Token does not match server's copy"
    assert sa.legacy_token_marked_invalid(legacy).startswith(
        "the token in secret ns/s for service account ns/sa has been marked invalid."
    )


# --------------------------------------------------------------------------- keys


def write_pem(path: Path, *blobs: bytes) -> Path:
    path.write_bytes(b"".join(blobs))
    return path


def test_key_id_stable_and_matches_jwks(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    for key in (rsa_key, ec_key):
        der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        expected = b64(hashlib.sha256(der).digest())
        assert sa.key_id(key.public_key()) == sa.key_id(key) == expected
        assert "=" not in expected and len(expected) == 43
    doc = sa.jwks([rsa_key.public_key(), ec_key.public_key()])
    assert [k["kid"] for k in doc["keys"]] == [sa.key_id(rsa_key), sa.key_id(ec_key)]
    assert TokenIssuer(rsa_key, ISSUER).key_id == doc["keys"][0]["kid"]


def test_generate_signing_key(tmp_path: Path) -> None:
    path = tmp_path / "pki" / "sa.key"
    key = sa.generate_signing_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    loaded = sa.load_signing_key(path)
    assert sa.key_id(loaded) == sa.key_id(key)
    assert [p.name for p in path.parent.iterdir()] == ["sa.key"]  # no temporary left over
    # Replacing is atomic and keeps the mode.
    again = sa.generate_signing_key(path)
    assert sa.key_id(sa.load_signing_key(path)) == sa.key_id(again) != sa.key_id(key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_load_signing_key_formats(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    pkcs8 = ec_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    sec1 = ec_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    params = b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
    for blob in (pkcs8, params + sec1):
        key = sa.load_signing_key(write_pem(tmp_path / "ec.key", blob))
        assert sa.key_id(key) == sa.key_id(ec_key)
    public_only = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    bad = write_pem(tmp_path / "pub.pem", public_only)
    with pytest.raises(ServiceAccountKeyError) as info:
        sa.load_signing_key(bad)
    assert str(info.value) == (
        f"error reading private key file {bad}: data does not contain a valid RSA or ECDSA"
        " private key"
    )
    with pytest.raises(ServiceAccountKeyError, match=r"missing\.key"):
        sa.load_signing_key(tmp_path / "missing.key")
    p384 = ec.generate_private_key(ec.SECP384R1())
    key = sa.load_signing_key(
        write_pem(
            tmp_path / "p384.key",
            p384.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
    )
    assert sa.algorithm_for(key) == "ES384"


def test_load_public_keys_accepts_keyutil_inputs(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sa")])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(ec_key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=1))
        .sign(ec_key, hashes.SHA256())
    )
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = write_pem(
        tmp_path / "keys.pem",
        b"some text before the blocks\n",
        rsa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        cert.public_bytes(serialization.Encoding.PEM),
        b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n",
        other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ),
    )
    keys = sa.load_public_keys(path)
    assert [sa.key_id(k) for k in keys] == [
        sa.key_id(rsa_key),
        sa.key_id(ec_key),
        sa.key_id(other),
    ]
    # Tokens from any of them verify.
    v = TokenVerifier(keys, [ISSUER], AUDS)
    for key in (rsa_key, ec_key, other):
        assert v.verify(issue(TokenIssuer(key, ISSUER)), NOW) is not None

    empty = write_pem(tmp_path / "empty.pem", b"-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n")
    with pytest.raises(ServiceAccountKeyError) as info:
        sa.load_public_keys(empty)
    assert str(info.value) == (
        f"error reading public key file {empty}: data does not contain any valid RSA or"
        " ECDSA public keys"
    )
    with pytest.raises(ServiceAccountKeyError, match=r"nope\.pem"):
        sa.load_public_keys(tmp_path / "nope.pem")


# --------------------------------------------------------------------------- discovery


def test_openid_documents(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> None:
    jwks_uri = "https://10.0.0.1:6443/openid/v1/jwks"
    config = sa.openid_configuration(ISSUER, jwks_uri, [rsa_key.public_key(), ec_key])
    assert list(config.items()) == [
        ("issuer", ISSUER),
        ("jwks_uri", jwks_uri),
        ("response_types_supported", ["id_token"]),
        ("subject_types_supported", ["public"]),
        ("id_token_signing_alg_values_supported", ["ES256", "RS256"]),
    ]
    assert sa.openid_configuration(ISSUER, jwks_uri)["id_token_signing_alg_values_supported"] == [
        "RS256"
    ]

    keys = sa.jwks([rsa_key.public_key(), ec_key.public_key()])["keys"]
    rsa_jwk, ec_jwk = keys
    assert list(rsa_jwk) == ["use", "kty", "kid", "alg", "n", "e"]
    assert rsa_jwk["use"] == "sig" and rsa_jwk["kty"] == "RSA" and rsa_jwk["alg"] == "RS256"
    assert rsa_jwk["e"] == "AQAB"
    assert int.from_bytes(unb64(rsa_jwk["n"]), "big") == rsa_key.public_key().public_numbers().n
    assert list(ec_jwk) == ["use", "kty", "kid", "crv", "alg", "x", "y"]
    assert ec_jwk["crv"] == "P-256" and ec_jwk["alg"] == "ES256"
    assert len(unb64(ec_jwk["x"])) == len(unb64(ec_jwk["y"])) == 32
    # A relying party verifies our token with nothing but the published JWKS.
    for jwk, key in ((rsa_jwk, rsa_key), (ec_jwk, ec_key)):
        token = issue(TokenIssuer(key, ISSUER))
        public = jwt.PyJWK(jwk).key
        claims = jwt.decode(
            token, public, algorithms=[jwk["alg"]], audience=ISSUER, options={"verify_exp": False}
        )
        assert claims["sub"] == "system:serviceaccount:default:builder"


def test_mutation_fuzz(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> None:
    """Random single-character edits, cuts and splices of real tokens: the verifier answers
    None, InvalidToken or the untouched claims, nothing else."""
    import random

    rng = random.Random(1234)
    v = TokenVerifier([rsa_key.public_key(), ec_key.public_key()], [ISSUER], AUDS)
    alphabet = 'AZaz09-_.=+/{}" \x00é'
    for key in (rsa_key, ec_key):
        token = issue(TokenIssuer(key, ISSUER), pod=BoundRef("p", "u"))
        good = v.verify(token, NOW)
        assert good is not None
        for _ in range(400):
            chars = list(token)
            op = rng.randrange(3)
            at = rng.randrange(len(chars))
            if op == 0:
                chars[at] = rng.choice(alphabet)
            elif op == 1:
                del chars[at:]
            else:
                chars.insert(at, rng.choice(alphabet))
            mutated = "".join(chars)
            try:
                result = v.verify(mutated, NOW)
            except InvalidToken:
                continue
            assert result is None or result == good


def test_verified_tokens_cache_rechecks_and_is_bounded(rsa_key: rsa.RSAPrivateKey) -> None:
    from strom.auth.serviceaccount.verified import VerifiedTokens

    issuer = TokenIssuer(rsa_key, ISSUER)
    token = issue(issuer, expiration_seconds=600)
    v = verifier(rsa_key)
    first = v.verify(token, NOW)
    # A hit skips only the signature check: audience and expiry are decided again.
    assert v.verify(token, NOW) == first
    assert rejected(v, token, audiences=["vault"]).startswith("token audiences")
    assert rejected(v, token, NOW + 661) == "service account token has expired"
    # A tampered copy is not the same cache key, so it is verified (and refused) afresh.
    header, payload, signature = token.split(".")
    assert rejected(v, f"{header}.{payload}.{signature[:-4]}AAAA").startswith("go-jose")

    cache: VerifiedTokens[int] = VerifiedTokens(budget_bytes=3 * (512 + 10))
    for i in range(10):
        cache.put(f"token-{i:04d}", i)
    assert len(cache) == 3 and cache.used_bytes <= 3 * (512 + 10)
    assert cache.get("token-0009") == 9 and cache.get("token-0000") is None
    cache.put("x" * 10_000, 1)  # larger than the whole budget: never kept
    assert cache.get("x" * 10_000) is None and len(cache) == 3
