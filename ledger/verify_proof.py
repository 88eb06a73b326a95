#!/usr/bin/env python3
"""Check a Foodtrace ledger proof bundle offline: standard library plus `cryptography` only.

Usage:  python verify_proof.py bundle.json [--public-key key.pem] [--origin NAME]

A bundle (JSON) carries one ledger entry, its RFC 9162 inclusion proof, the signed checkpoint
(a C2SP tlog-checkpoint note, Ed25519) the proof leads to, and the log's public key; optionally a
record of a batch entry (e.g. one temperature reading) with its proof to the batch root that the
entry carries. The script prints "OK: ..." and exits 0, or prints "FAILED: ..." and exits 1.

Hashing is RFC 9162 section 2.1: SHA-256, leaf = H(0x00 || entry bytes), node = H(0x01 || left ||
right), leaf indexes start at 0. Pass --public-key with the key you obtained from the log operator
independently; without it the key embedded in the bundle is used and the verdict says so.

This file imports nothing from Foodtrace: it is handed to regulators as it is.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

BUNDLE_FORMAT = "foodtrace-ledger-proof/1"
HASH_SIZE = 32
ED25519_SIGNATURE_TYPE = b"\x01"  # c2sp.org/signed-note signature type for Ed25519
SIGNATURE_PREFIX = "\u2014 "  # em dash and space open every signed-note signature line
MAX_SIGNATURES = 16


class InvalidProof(ValueError):
    """A proof, a signature or a bundle does not verify."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _check_path(proof: list[bytes]) -> None:
    for element in proof:
        if not isinstance(element, bytes) or len(element) != HASH_SIZE:
            raise InvalidProof("proof element is not a 32-byte hash")


def _same(a: bytes, b: bytes) -> bool:
    return isinstance(a, bytes) and isinstance(b, bytes) and hmac.compare_digest(a, b)


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> None:
    """Check an RFC 9162 (section 2.1.3.2) inclusion proof of leaf `index` (0-based) in a tree
    of `size` leaves with root hash `root`; return None or raise InvalidProof."""
    if not 0 <= index < size:
        raise InvalidProof(f"leaf index {index} is outside a tree of size {size}")
    if not isinstance(leaf_hash, bytes) or len(leaf_hash) != HASH_SIZE:
        raise InvalidProof("leaf hash is not a 32-byte hash")
    _check_path(proof)
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise InvalidProof("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidProof("inclusion proof is shorter than the tree is deep")
    if not _same(r, root):
        raise InvalidProof("inclusion proof does not lead to the root hash")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]
) -> None:
    """Check an RFC 9162 (section 2.1.4.2) consistency proof between the tree of `first` leaves
    and the tree of `second` leaves; return None or raise InvalidProof.

    A consistency check against the empty tree (first == 0) proves nothing and is refused.
    """
    if first < 1:
        raise InvalidProof("consistency with the empty tree cannot be proven")
    if first > second:
        raise InvalidProof(f"first size {first} exceeds second size {second}")
    if first == second:
        if proof:
            raise InvalidProof("equal tree sizes need an empty consistency proof")
        if not _same(first_root, second_root):
            raise InvalidProof("equal tree sizes but different root hashes")
        return
    if not proof:
        raise InvalidProof("empty consistency proof")
    _check_path(proof)
    path = list(proof)
    if first & (first - 1) == 0:  # first is a power of two: its root is the implicit first node
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise InvalidProof("consistency proof is longer than expected")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidProof("consistency proof is shorter than expected")
    if not _same(fr, first_root):
        raise InvalidProof("consistency proof does not lead to the first root hash")
    if not _same(sr, second_root):
        raise InvalidProof("consistency proof does not lead to the second root hash")


# --------------------------------------------------------------------------- signed notes


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line of a signed note: key name, 4-byte key ID and raw signature."""

    name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class ParsedCheckpoint:
    """A C2SP tlog-checkpoint: origin, tree size, root hash, the signed text and signatures."""

    origin: str
    size: int
    root: bytes
    text: str
    signatures: tuple[NoteSignature, ...]


def key_id(name: str, public_key: bytes) -> bytes:
    """signed-note key ID for Ed25519: SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + ED25519_SIGNATURE_TYPE + public_key).digest()[:4]


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise InvalidProof(f"{what} is not valid base64") from exc


def parse_checkpoint(note: str) -> ParsedCheckpoint:
    """Split a signed checkpoint note into its fields; raise InvalidProof if malformed."""
    if any(ord(ch) < 0x20 and ch != "\n" for ch in note):
        raise InvalidProof("checkpoint note contains control characters")
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise InvalidProof("checkpoint note has no signature block")
    text, block = note[: cut + 1], note[cut + 2 :]
    lines = text[:-1].split("\n")
    if len(lines) < 3 or not all(lines[:3]):
        raise InvalidProof("checkpoint text needs origin, size and root hash lines")
    origin, size_line, root_line = lines[:3]
    if (
        not size_line.isascii()
        or not size_line.isdigit()
        or (size_line != "0" and size_line[0] == "0")
    ):
        raise InvalidProof("checkpoint tree size is not a plain decimal number")
    root = _b64(root_line, "checkpoint root hash")
    if len(root) != HASH_SIZE:
        raise InvalidProof("checkpoint root hash is not 32 bytes")
    signatures = []
    for line in block[:-1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise InvalidProof("malformed signature line in checkpoint note")
        name, _, sig_b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
        raw = _b64(sig_b64, "note signature")
        if not name or len(raw) < 5:
            raise InvalidProof("malformed signature line in checkpoint note")
        signatures.append(NoteSignature(name, raw[:4], raw[4:]))
    if len(signatures) > MAX_SIGNATURES:
        raise InvalidProof("too many signatures on checkpoint note")
    return ParsedCheckpoint(origin, int(size_line), root, text, tuple(signatures))


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    """The 32-byte RFC 8032 encoding of an Ed25519 public key."""
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def verify_checkpoint(note: str, public_key: Ed25519PublicKey) -> tuple[ParsedCheckpoint, str]:
    """Verify a checkpoint note's Ed25519 signature by `public_key`; return it and the key name.

    Signature lines from other keys are ignored (signed-note rules); at least one line must be by
    this key, and every line by this key must verify.
    """
    parsed = parse_checkpoint(note)
    raw = raw_public_key(public_key)
    known = [s for s in parsed.signatures if _same(s.key_id, key_id(s.name, raw))]
    if not known:
        raise InvalidProof("checkpoint is not signed by the given public key")
    for sig in known:
        try:
            public_key.verify(sig.signature, parsed.text.encode("utf-8"))
        except InvalidSignature as exc:
            raise InvalidProof(f"checkpoint signature by {sig.name} does not verify") from exc
    return parsed, known[0].name


# --------------------------------------------------------------------------- bundles


def load_public_key(text: str) -> Ed25519PublicKey:
    """Read an Ed25519 public key from PEM, or from a signed-note verifier key
    (`name+keyid+base64(0x01 || key)`)."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise InvalidProof("public key is not an Ed25519 key")
        return key
    parts = text.split("+")
    if len(parts) == 3:
        raw = _b64(parts[2], "verifier key")
        if len(raw) == 33 and raw[:1] == ED25519_SIGNATURE_TYPE:
            return Ed25519PublicKey.from_public_bytes(raw[1:])
    raise InvalidProof("public key is neither PEM nor a signed-note verifier key")


def _hashes(items: Any, what: str) -> list[bytes]:
    if not isinstance(items, list):
        raise InvalidProof(f"{what} is not a list")
    return [_b64(str(item), what) for item in items]


def _field(obj: dict[str, Any], name: str, kind: type) -> Any:
    value = obj.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidProof(f"bundle field {name!r} is missing or not a {kind.__name__}")
    return value


def _verify_record(record: dict[str, Any], entry: bytes) -> str:
    """Check record -> batch root (carried in the entry's payload); return a verdict phrase."""
    try:
        batch = json.loads(entry.decode("utf-8"))["payload"]["batch"]
        batch_root = _b64(batch["root"], "batch root")
        batch_size = int(batch["size"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidProof("entry is not a batch entry (no payload.batch root)") from exc
    data = _b64(_field(record, "data", str), "record data")
    index = _field(record, "index", int)
    proof = _hashes(record.get("inclusion_proof"), "record inclusion proof")
    verify_inclusion(leaf_hash(data), index, batch_size, proof, batch_root)
    return f"record {index} of {batch_size} in its batch, "


def verify_bundle(
    bundle: dict[str, Any], public_key: Ed25519PublicKey | None = None, origin: str | None = None
) -> str:
    """Verify a proof bundle end to end; return the OK verdict or raise InvalidProof."""
    if bundle.get("format") != BUNDLE_FORMAT:
        raise InvalidProof(f"not a {BUNDLE_FORMAT} bundle")
    embedded = public_key is None
    key = public_key or load_public_key(_field(bundle, "public_key", str))
    checkpoint, signer = verify_checkpoint(_field(bundle, "checkpoint", str), key)
    if origin is not None and checkpoint.origin != origin:
        raise InvalidProof(f"checkpoint origin {checkpoint.origin!r} is not {origin!r}")
    entry = _b64(_field(bundle, "entry", str), "entry")
    index = _field(bundle, "index", int)
    leaf = leaf_hash(entry)
    if "leaf_hash" in bundle and not _same(_b64(bundle["leaf_hash"], "leaf hash"), leaf):
        raise InvalidProof("entry bytes do not hash to the stated leaf hash")
    if bundle.get("tree_size", checkpoint.size) != checkpoint.size:
        raise InvalidProof("bundle tree size differs from the signed checkpoint's")
    proof = _hashes(bundle.get("inclusion_proof"), "inclusion proof")
    verify_inclusion(leaf, index, checkpoint.size, proof, checkpoint.root)
    record = bundle.get("record")
    prefix = _verify_record(record, entry) if isinstance(record, dict) else ""
    kid = key_id(signer, raw_public_key(key)).hex()
    source = "key embedded in the bundle: compare it with the published one" if embedded else ""
    return (
        f"OK: {prefix}entry {index} is included in the log {checkpoint.origin} of size "
        f"{checkpoint.size} signed by {signer} (key ID {kid}{'; ' + source if source else ''})"
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: print the verdict, return the exit status."""
    parser = argparse.ArgumentParser(description="Verify a Foodtrace ledger proof bundle.")
    parser.add_argument("bundle", type=Path, help="proof bundle (JSON)")
    parser.add_argument("--public-key", type=Path, help="the log's Ed25519 public key (PEM)")
    parser.add_argument("--origin", help="the log origin the checkpoint must name")
    args = parser.parse_args(argv)
    try:
        bundle = json.loads(args.bundle.read_text(encoding="utf-8"))
        if not isinstance(bundle, dict):
            raise InvalidProof("bundle is not a JSON object")
        key = load_public_key(args.public_key.read_text()) if args.public_key else None
        print(verify_bundle(bundle, key, args.origin))
    except (InvalidProof, OSError, ValueError) as exc:
        print(f"FAILED: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
