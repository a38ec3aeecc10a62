"""A real admission webhook for tests: HTTPS on 127.0.0.1 with its own CA, AdmissionReview v1.

Each path answers one way (`/deny`, `/mutate`, `/garbage`, ...), and every review received is
kept so a test can check what strom sent. Runs in a thread; `close()` stops it.
"""

from __future__ import annotations

import base64
import contextlib
import json
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from strom.testing.certs import self_signed

__all__ = ["WebhookServer"]


def _patch(operations: list[dict[str, Any]]) -> str:
    return base64.b64encode(json.dumps(operations).encode()).decode()


class WebhookServer:
    def __init__(self, dns_names: list[str] | None = None) -> None:
        self.reviews: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._release = threading.Event()  # set on close: a /slow answer stops waiting
        self._dir = tempfile.TemporaryDirectory()
        cert_file, key_file = self_signed(
            Path(self._dir.name), "webhook", dns_names=tuple(dns_names or ())
        )
        self.ca_pem = cert_file.read_bytes()  # self-signed: the certificate is its own CA
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_file, key_file)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def ca_bundle(self) -> str:
        return base64.b64encode(self.ca_pem).decode()

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def received(self, path: str) -> list[dict[str, Any]]:
        with self._lock:
            return [review for p, review in self.reviews if p == path]

    def close(self) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._dir.cleanup()

    def _convert(self, review: dict[str, Any]) -> bytes:
        """ConversionReview for Endpoints-style CRDs: v1 `spec.host` + `spec.port`, v2
        `spec.endpoint` ("host:port")."""
        request = review["request"]
        desired = request["desiredAPIVersion"]
        converted = []
        for obj in request["objects"]:
            out = dict(obj, apiVersion=desired)
            spec = dict(obj.get("spec") or {})
            if desired.endswith("/v2") and "host" in spec:
                spec = {"endpoint": f"{spec.pop('host')}:{spec.pop('port', 0)}", **spec}
            elif desired.endswith("/v1") and "endpoint" in spec:
                host, _, port = spec.pop("endpoint").partition(":")
                spec = {"host": host, "port": int(port or 0), **spec}
            out["spec"] = spec
            converted.append(out)
        response = {
            "uid": request["uid"],
            "convertedObjects": converted,
            "result": {"status": "Success"},
        }
        return json.dumps(
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "ConversionReview",
                "response": response,
            }
        ).encode()

    def _answer(self, path: str, review: dict[str, Any]) -> bytes:
        if review.get("kind") == "ConversionReview":
            return self._convert(review)
        uid = review["request"]["uid"]
        response: dict[str, Any] = {"uid": uid, "allowed": True}
        if path == "/deny":
            response = {
                "uid": uid,
                "allowed": False,
                "status": {"code": 403, "message": "widgets need an owner label"},
            }
        elif path == "/deny-422":
            response = {
                "uid": uid,
                "allowed": False,
                "status": {"code": 422, "reason": "Invalid", "message": "size is odd"},
            }
        elif path == "/mutate":
            response["patchType"] = "JSONPatch"
            response["patch"] = _patch(
                [{"op": "add", "path": "/metadata/labels", "value": {"mutated": "yes"}}]
            )
            response["warnings"] = ["labelled by the test webhook"]
            response["auditAnnotations"] = {"labelled": "mutated=yes"}
        elif path == "/garbage":
            return b"this is not json"
        elif path == "/wrong-uid":
            response["uid"] = "not-the-uid"
        elif path == "/bad-patch":
            response["patchType"] = "JSONPatch"
            response["patch"] = _patch([{"op": "replace", "path": "/no/such/path", "value": 1}])
        elif path == "/huge":
            response["warnings"] = ["x" * (10 * 1024 * 1024)]
        elif path == "/slow":
            # answer only past the test's 3 s timeoutSeconds (or when the server closes)
            self._release.wait(timeout=5)
        return json.dumps(
            {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}
        ).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                review = json.loads(self.rfile.read(length))
                path = self.path.split("?", 1)[0]
                with server._lock:
                    server.reviews.append((path, review))
                body = server._answer(path, review)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(OSError):  # strom hung up (timeout, body too big)
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
