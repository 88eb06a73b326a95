"""The log's Ed25519 signing key: created on first use (PEM, mode 0600), named by the log origin."""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

from ledger.errors import LedgerError
from ledger.verify_proof import ED25519_SIGNATURE_TYPE, SIGNATURE_PREFIX, key_id, raw_public_key


@dataclass(frozen=True, slots=True)
class Signer:
    """An Ed25519 key with its signed-note key name (the log origin, e.g. "campus.example/log")."""

    name: str
    private_key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        if not self.name or any(ch.isspace() or ch == "+" for ch in self.name):
            raise LedgerError("a note key name must be non-empty, without spaces or '+'")

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The public half, for verify() and proof bundles."""
        return self.private_key.public_key()

    @property
    def key_id(self) -> bytes:
        """The 4-byte signed-note key ID."""
        return key_id(self.name, raw_public_key(self.public_key))

    def public_key_pem(self) -> str:
        """The public key as PEM (SubjectPublicKeyInfo), to publish and embed in bundles."""
        pem = self.public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        return pem.decode("ascii")

    def verifier_key(self) -> str:
        """The signed-note verifier key: name+hex key ID+base64(0x01 || public key)."""
        raw = ED25519_SIGNATURE_TYPE + raw_public_key(self.public_key)
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(raw).decode()}"

    def sign_note(self, text: str) -> str:
        """The signed note: text (ending in a newline), a blank line, one signature line."""
        if not text.endswith("\n"):
            raise LedgerError("note text must end with a newline")
        signature = self.private_key.sign(text.encode("utf-8"))
        line = base64.b64encode(self.key_id + signature).decode()
        return f"{text}\n{SIGNATURE_PREFIX}{self.name} {line}\n"


def load_or_create_signing_key(path: Path | str, *, name: str) -> Signer:
    """Load the PEM private key at `path`, creating it (mode 0600) on first use.

    Creation is atomic (written aside, then hard-linked into place), so concurrent first runs
    agree on one key. `name` is the note key name, normally the log origin.
    """
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        )
        aside = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(aside, path)  # fails if another process created the key first: use theirs
        except FileExistsError:
            pass
        finally:
            aside.unlink()
    key = load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise LedgerError(f"{path} does not hold an Ed25519 private key")
    return Signer(name, key)
