"""Where the kube-apiserver reference captures live in the repository (tests/data/README.md)."""

from pathlib import Path

KUBE_APISERVER_V1_36 = Path(__file__).resolve().parent / "data" / "kube-apiserver-v1.36"
