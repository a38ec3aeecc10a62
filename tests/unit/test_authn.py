"""Token file parsing, admin token bootstrap and the x509 + bearer authenticator chain."""

from __future__ import annotations

import hmac
import logging
import ssl
import stat
from pathlib import Path

import pytest

from strom.auth import AuthConfigError, Authenticator, TokenFile, ensure_admin_token
from strom.auth.authn import bearer_token
from strom.pki import client_ssl_context, ensure_pki, issue_client_cert, server_ssl_context
from strom.user import ANONYMOUS, UserInfo


def token_file(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "tokens.csv"
    if isinstance(text, str):
        path.write_text(text)
    else:
        path.write_bytes(text)
    return path


# --------------------------------------------------------------------------- TokenFile


def test_load_and_authenticate(tmp_path: Path) -> None:
    path = token_file(
        tmp_path,
        "# comment line\n"
        "\n"
        'tok-a,alice,uid-a,"dev,ops"\r\n'
        "tok-b,bob,uid-b\n"
        "tok-c,carol,uid-c,single,ignored-extra-column\n"
        '"tok,d","dan ""the man""",uid-d,"g1"',  # quoted token, escaped quotes, no final newline
    )
    tokens = TokenFile.load(path)
    assert len(tokens) == 4
    assert tokens.authenticate("tok-a") == UserInfo("alice", "uid-a", ("dev", "ops"))
    assert tokens.authenticate("tok-b") == UserInfo("bob", "uid-b", ())
    assert tokens.authenticate("tok-c") == UserInfo("carol", "uid-c", ("single",))
    assert tokens.authenticate("tok,d") == UserInfo('dan "the man"', "uid-d", ("g1",))


@pytest.mark.parametrize("wrong", ["", "tok", "tok-a ", "TOK-A", "tok-ab", "x" * 1000])
def test_wrong_tokens_are_rejected(tmp_path: Path, wrong: str) -> None:
    tokens = TokenFile.load(token_file(tmp_path, "tok-a,alice,1\n"))
    assert tokens.authenticate(wrong) is None


def test_lookup_ends_in_constant_time_compare(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = TokenFile.load(token_file(tmp_path, "tok-a,alice,1\n"))
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return bool(real(a, b))

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert tokens.authenticate("tok-a") is not None
    assert calls == [(b"tok-a", b"tok-a")]


def test_empty_fourth_column_gives_one_empty_group_like_go(tmp_path: Path) -> None:
    tokens = TokenFile.load(token_file(tmp_path, "t,u,1,\n"))
    assert tokens.authenticate("t") == UserInfo("u", "1", ("",))


def test_empty_token_is_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="strom.auth.authn"):
        tokens = TokenFile.load(token_file(tmp_path, ",nobody,0\nt,u,1\n"))
    assert len(tokens) == 1
    assert tokens.authenticate("") is None
    assert "empty token" in caplog.text and "line 1" in caplog.text


def test_duplicate_token_last_row_wins(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="strom.auth.authn"):
        tokens = TokenFile.load(token_file(tmp_path, "t,first,1\nt,second,2\n"))
    assert tokens.authenticate("t") == UserInfo("second", "2", ())
    assert "duplicate token" in caplog.text and "line 2" in caplog.text


def test_quoted_field_may_span_lines(tmp_path: Path) -> None:
    path = token_file(tmp_path, 't,u,1,"a,b\nc"\nbad,row\n')
    with pytest.raises(AuthConfigError, match="line 3: must have at least 3 columns"):
        TokenFile.load(path)
    ok = token_file(tmp_path, 't,u,1,"a,b\nc"\n')
    assert TokenFile.load(ok).authenticate("t") == UserInfo("u", "1", ("a", "b\nc"))


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        (
            "t,u,1\nonly,two\n",
            2,
            "must have at least 3 columns (token, user name, user uid), found 2",
        ),
        ("t,u,1\n \n", 2, "found 1"),  # whitespace is not a blank line in Go's csv
        ('t,u"x,1\n', 1, 'column 4: bare " in non-quoted-field'),
        ('t,"u"x,1\n', 1, 'column 6: extraneous or missing " in quoted-field'),
        ('t,u,1\nt2,u2,"unterminated\n', 2, 'extraneous or missing " in quoted-field'),
    ],
)
def test_parse_errors_name_file_and_line(
    tmp_path: Path, text: str, line: int, problem: str
) -> None:
    path = token_file(tmp_path, text)
    with pytest.raises(AuthConfigError) as err:
        TokenFile.load(path)
    message = str(err.value)
    assert message.startswith(f"token file '{path}' line {line}: ")
    assert problem in message
    assert "\n" not in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AuthConfigError, match=f"token file '{tmp_path / 'nope'}'"):
        TokenFile.load(tmp_path / "nope")


def test_non_utf8_file(tmp_path: Path) -> None:
    with pytest.raises(AuthConfigError, match="not UTF-8"):
        TokenFile.load(token_file(tmp_path, b"t,\xff,1\n"))


# --------------------------------------------------------------------------- admin token


def test_ensure_admin_token_creates_file(tmp_path: Path) -> None:
    path = tmp_path / "auth" / "tokens.csv"
    token = ensure_admin_token(path)
    assert len(token) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == f'{token},admin,admin,"system:masters"\n'
    assert TokenFile.load(path).authenticate(token) == UserInfo(
        "admin", "admin", ("system:masters",)
    )
    assert [p.name for p in path.parent.iterdir()] == ["tokens.csv"]


def test_ensure_admin_token_reuses_existing(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    first = ensure_admin_token(path)
    assert ensure_admin_token(path) == first
    assert ensure_admin_token(tmp_path / "other.csv") != first


def test_ensure_admin_token_picks_first_masters_row(tmp_path: Path) -> None:
    path = token_file(
        tmp_path,
        'a,alice,1,"dev"\nm1,root,2,"x,system:masters"\nm2,root2,3,"system:masters"\n',
    )
    assert ensure_admin_token(path) == "m1"


def test_ensure_admin_token_without_masters_row(tmp_path: Path) -> None:
    path = token_file(tmp_path, "a,alice,1\n")
    with pytest.raises(AuthConfigError, match="system:masters"):
        ensure_admin_token(path)


# --------------------------------------------------------------------------- bearer parsing


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("BEARER abc", "abc"),
        ("  Bearer abc  ", "abc"),
        ("Bearer abc def", "abc"),  # kube takes the second space-separated part
        ("Bearer  abc", None),  # double space: empty second part
        ("Bearer", None),
        ("Bearer ", None),
        ("Basic YWxhZGRpbjpvcGVuc2VzYW1l", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token_parsing(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


# --------------------------------------------------------------------------- Authenticator


def cert_dict(cn: str | None, *orgs: str) -> dict[str, object]:
    rdns: list[tuple[tuple[str, str], ...]] = [(("organizationName", o),) for o in orgs]
    if cn is not None:
        rdns.append((("commonName", cn),))
    return {"subject": tuple(rdns), "version": 3}


@pytest.fixture
def tokens(tmp_path: Path) -> TokenFile:
    return TokenFile.load(
        token_file(tmp_path, 'admin-tok,admin,admin,"system:masters"\nalice-tok,alice,a1\n')
    )


def test_token_user_gets_system_authenticated(tokens: TokenFile) -> None:
    auth = Authenticator(token_file=tokens, client_ca_configured=False)
    user = auth.authenticate(authorization="Bearer admin-tok", peer_cert=None)
    assert user == UserInfo("admin", "admin", ("system:masters", "system:authenticated"))
    alice = auth.authenticate(authorization="bearer alice-tok", peer_cert=None)
    assert alice == UserInfo("alice", "a1", ("system:authenticated",))


def test_invalid_token_is_rejected_even_with_anonymous(tokens: TokenFile) -> None:
    for anonymous in (False, True):
        auth = Authenticator(token_file=tokens, client_ca_configured=True, anonymous=anonymous)
        assert auth.authenticate(authorization="Bearer nope", peer_cert=None) is None


def test_no_credentials(tokens: TokenFile) -> None:
    strict = Authenticator(token_file=tokens, client_ca_configured=True)
    anon = Authenticator(token_file=tokens, client_ca_configured=True, anonymous=True)
    for header in (None, "", "Basic abc", "Bearer"):
        assert strict.authenticate(authorization=header, peer_cert=None) is None
        user = anon.authenticate(authorization=header, peer_cert=None)
        assert user == ANONYMOUS
        assert user.username == "system:anonymous"
        assert user.groups == ("system:unauthenticated",)


def test_bearer_ignored_when_no_token_file() -> None:
    auth = Authenticator(token_file=None, client_ca_configured=False, anonymous=True)
    assert auth.authenticate(authorization="Bearer whatever", peer_cert=None) == ANONYMOUS


def test_client_cert_user(tokens: TokenFile) -> None:
    auth = Authenticator(token_file=tokens, client_ca_configured=True)
    user = auth.authenticate(authorization=None, peer_cert=cert_dict("bob", "dev", "ops"))
    assert user == UserInfo("bob", "", ("dev", "ops", "system:authenticated"))


def test_client_cert_wins_over_any_token(tokens: TokenFile) -> None:
    # x509 precedes bearer in kube's union; the first success short-circuits the chain.
    auth = Authenticator(token_file=tokens, client_ca_configured=True)
    for header in ("Bearer nope", "Bearer admin-tok"):
        user = auth.authenticate(authorization=header, peer_cert=cert_dict("bob"))
        assert user is not None and user.username == "bob"


def test_cert_without_cn_falls_through_to_token(tokens: TokenFile) -> None:
    auth = Authenticator(token_file=tokens, client_ca_configured=True)
    no_cn = cert_dict(None, "system:masters")
    assert auth.authenticate(authorization=None, peer_cert=no_cn) is None
    user = auth.authenticate(authorization="Bearer alice-tok", peer_cert=no_cn)
    assert user is not None and user.username == "alice"


def test_cert_ignored_without_client_ca(tokens: TokenFile) -> None:
    auth = Authenticator(token_file=tokens, client_ca_configured=False)
    assert auth.authenticate(authorization=None, peer_cert=cert_dict("bob")) is None


def test_last_cn_wins_and_empty_dict_is_no_cert(tokens: TokenFile) -> None:
    auth = Authenticator(token_file=tokens, client_ca_configured=True)
    two_cns = {"subject": ((("commonName", "first"),), (("commonName", "second"),))}
    user = auth.authenticate(authorization=None, peer_cert=two_cns)
    assert user is not None and user.username == "second"
    assert auth.authenticate(authorization=None, peer_cert={}) is None


def test_authenticated_group_not_duplicated(tmp_path: Path) -> None:
    tokens = TokenFile.load(
        token_file(tmp_path, 'a,u,1,"system:authenticated"\nb,v,2,"system:unauthenticated"\n')
    )
    auth = Authenticator(token_file=tokens, client_ca_configured=False)
    a = auth.authenticate(authorization="Bearer a", peer_cert=None)
    b = auth.authenticate(authorization="Bearer b", peer_cert=None)
    assert a is not None and a.groups == ("system:authenticated",)
    assert b is not None and b.groups == ("system:unauthenticated",)


def test_real_peer_cert_from_tls_handshake(tmp_path: Path) -> None:
    """End to end: issue a cert, present it over TLS, feed getpeercert() to the authenticator."""
    pki = ensure_pki(cert_dir=tmp_path / "pki", sans=[])
    crt, key = tmp_path / "carol.crt", tmp_path / "carol.key"
    issue_client_cert(ca=pki, common_name="carol", organizations=["qa"], out_crt=crt, out_key=key)
    server_ctx = server_ssl_context(
        cert_file=pki.server_crt, key_file=pki.server_key, client_ca_file=pki.ca_crt
    )
    client_ctx = client_ssl_context(ca_file=pki.ca_crt, cert_file=crt, key_file=key)
    s_in, s_out, c_in, c_out = (ssl.MemoryBIO() for _ in range(4))
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname="localhost")
    pending = [client, server]
    for _ in range(10):
        for obj in list(pending):
            try:
                obj.do_handshake()
                pending.remove(obj)
            except ssl.SSLWantReadError:
                pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if not pending:
            break
    assert not pending
    auth = Authenticator(token_file=None, client_ca_configured=True)
    user = auth.authenticate(authorization=None, peer_cert=server.getpeercert())
    assert user == UserInfo("carol", "", ("qa", "system:authenticated"))
