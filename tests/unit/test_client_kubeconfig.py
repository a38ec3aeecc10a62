"""kubeconfig loading as kubectl does it: precedence, merging, relative paths, TLS settings."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path
from typing import Any

import pytest
import yaml

from strom.client.kubeconfig import KubeconfigError, load_config
from strom.pki.certs import PKIPaths, ensure_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKIPaths:
    return ensure_pki(cert_dir=tmp_path_factory.mktemp("pki"), sans=[])


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc))
    return path


def _config(
    *,
    current: str | None,
    clusters: dict[str, dict[str, Any]] | None = None,
    users: dict[str, dict[str, Any]] | None = None,
    contexts: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": n, "cluster": c} for n, c in (clusters or {}).items()],
        "users": [{"name": n, "user": u} for n, u in (users or {}).items()],
        "contexts": [{"name": n, "context": c} for n, c in (contexts or {}).items()],
    }
    if current is not None:
        doc["current-context"] = current
    return doc


def test_kubeconfig_env_merges_first_definition_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _write(
        tmp_path / "one",
        _config(
            current="a",
            clusters={"c": {"server": "https://one.example:6443"}},
            users={"u": {"token": "first-token"}},
            contexts={"a": {"cluster": "c", "user": "u", "namespace": "team-a"}},
        ),
    )
    second = _write(
        tmp_path / "two",
        _config(
            current="b",
            clusters={"c": {"server": "https://two.example"}, "d": {"server": "https://d.example"}},
            users={"u": {"token": "second-token"}, "v": {"token": "v-token"}},
            contexts={"a": {"cluster": "d", "user": "v"}, "b": {"cluster": "d", "user": "u"}},
        ),
    )
    missing = tmp_path / "missing"
    monkeypatch.setenv("KUBECONFIG", f"{missing}:{first}:{second}")

    current = load_config()
    assert (current.context_name, current.server, current.token) == (
        "a",
        "https://one.example:6443",
        "first-token",
    )
    assert current.namespace == "team-a"
    assert (current.host, current.port, current.is_tls) == ("one.example", 6443, True)

    other = load_config(context="b")
    # context b comes from the second file but its user "u" was first defined by the first.
    assert (other.server, other.token, other.namespace) == (
        "https://d.example",
        "first-token",
        "default",
    )
    assert other.port == 443


def test_explicit_path_is_the_only_file_and_must_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = _write(
        tmp_path / "env",
        _config(
            current="x",
            clusters={"c": {"server": "https://env.example"}},
            contexts={"x": {"cluster": "c"}},
        ),
    )
    monkeypatch.setenv("KUBECONFIG", str(env_file))
    with pytest.raises(KubeconfigError, match=r"kubeconfig .*/nope does not exist"):
        load_config(tmp_path / "nope")
    assert load_config().server == "https://env.example"


def test_home_kube_config_is_the_default(tmp_path: Path) -> None:
    _write(
        tmp_path / "home" / ".kube" / "config",
        _config(
            current="h",
            clusters={"c": {"server": "http://127.0.0.1:8080/"}},
            contexts={"h": {"cluster": "c"}},
        ),
    )
    config = load_config()
    assert config.server == "http://127.0.0.1:8080"
    assert not config.is_tls and config.ssl_context() is None and config.authorization() is None


def test_no_kubeconfig_at_all() -> None:
    with pytest.raises(KubeconfigError, match="no kubeconfig found"):
        load_config()


def test_relative_files_resolve_against_their_kubeconfig(tmp_path: Path, pki: PKIPaths) -> None:
    directory = tmp_path / "conf"
    directory.mkdir()
    (directory / "ca.pem").write_bytes(pki.ca_crt.read_bytes())
    (directory / "token").write_text("tok-1\n")
    path = _write(
        directory / "config",
        _config(
            current="r",
            clusters={"c": {"server": "https://127.0.0.1:1", "certificate-authority": "ca.pem"}},
            users={"u": {"tokenFile": "token"}},
            contexts={"r": {"cluster": "c", "user": "u"}},
        ),
    )
    config = load_config(path)
    assert config.ca_data == pki.ca_crt.read_bytes()
    assert config.authorization() == "Bearer tok-1"
    (directory / "token").write_text("tok-2")  # rotated on disk: read again
    assert config.authorization() == "Bearer tok-2"
    ctx = config.ssl_context()
    assert ctx is not None and ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert len(ctx.get_ca_certs()) == 1


def test_data_fields_win_and_client_certificates_load(tmp_path: Path, pki: PKIPaths) -> None:
    def b64(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    path = _write(
        tmp_path / "config",
        _config(
            current="cert",
            clusters={
                "c": {
                    "server": "https://127.0.0.1:1",
                    "certificate-authority-data": b64(pki.ca_crt),
                    "certificate-authority": str(tmp_path / "absent.pem"),  # ignored: data wins
                }
            },
            users={
                "u": {
                    "client-certificate-data": b64(pki.admin_crt),
                    "client-key": str(pki.admin_key),
                }
            },
            contexts={"cert": {"cluster": "c", "user": "u"}},
        ),
    )
    config = load_config(path)
    assert config.client_cert_data == pki.admin_crt.read_bytes()
    assert config.client_key_data == pki.admin_key.read_bytes()
    assert config.authorization() is None
    assert config.ssl_context() is not None


def test_bad_client_certificate_is_a_kubeconfig_error(tmp_path: Path) -> None:
    junk = base64.b64encode(b"not a certificate").decode()
    path = _write(
        tmp_path / "config",
        _config(
            current="x",
            clusters={"c": {"server": "https://h"}},
            users={"u": {"client-certificate-data": junk, "client-key-data": junk}},
            contexts={"x": {"cluster": "c", "user": "u"}},
        ),
    )
    with pytest.raises(KubeconfigError, match="bad client certificate or key"):
        load_config(path).ssl_context()


def test_insecure_skip_verify_keylog_and_basic_auth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keylog = tmp_path / "keys.log"
    monkeypatch.setenv("SSLKEYLOGFILE", str(keylog))
    path = _write(
        tmp_path / "config",
        _config(
            current="x",
            clusters={
                "c": {
                    "server": "https://10.0.0.1:6443",
                    "insecure-skip-tls-verify": True,
                    "tls-server-name": "kubernetes",
                }
            },
            users={"u": {"username": "alice", "password": "s3cret"}},
            contexts={"x": {"cluster": "c", "user": "u"}},
        ),
    )
    config = load_config(path)
    ctx = config.ssl_context()
    assert ctx is not None
    assert ctx.verify_mode == ssl.CERT_NONE and not ctx.check_hostname
    assert ctx.keylog_filename == str(keylog)
    assert config.tls_server_name == "kubernetes"
    assert config.authorization() == "Basic " + base64.b64encode(b"alice:s3cret").decode()


@pytest.mark.parametrize(
    ("doc", "context", "message"),
    [
        (_config(current=None), None, "no current-context"),
        (_config(current="gone"), None, 'context "gone" does not exist'),
        (
            _config(current="x", contexts={"x": {"cluster": "nowhere"}}),
            None,
            'cluster "nowhere" of context "x" not found',
        ),
        (
            _config(
                current="x",
                clusters={"c": {"server": "https://h"}},
                users={"u": {"exec": {"command": "aws"}}},
                contexts={"x": {"cluster": "c", "user": "u"}},
            ),
            None,
            "exec and auth-provider credential plugins are not supported",
        ),
        (
            _config(
                current="x",
                clusters={"c": {"server": "https://h"}},
                contexts={"x": {"cluster": "c"}},
            ),
            "y",
            'context "y" does not exist',
        ),
    ],
)
def test_unusable_contexts_say_why(
    tmp_path: Path, doc: dict[str, Any], context: str | None, message: str
) -> None:
    path = _write(tmp_path / "config", doc)
    with pytest.raises(KubeconfigError, match=message):
        load_config(path, context=context)


def test_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("clusters: [unclosed")
    with pytest.raises(KubeconfigError, match="is not valid YAML"):
        load_config(path)
