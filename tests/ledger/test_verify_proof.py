"""ledger/verify_proof.py: RFC 6962/9162 conformance, signed notes, and the standalone script."""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import Engine
from sqlmodel import Session

import ledger
from ledger import verify_proof as vp
from tests.ledger import reference as ref

# shared/ sits beside the repository (in CI too)
VECTORS = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "merkle"
SCRIPT = Path(__file__).resolve().parents[2] / "ledger" / "verify_proof.py"


def _load(name: str) -> dict[str, Any]:
    return json.loads((VECTORS / name).read_text())


INCLUSION = _load("inclusion_vectors.json")["vectors"]
CONSISTENCY = _load("consistency_vectors.json")["vectors"]
TREE = _load("rfc6962_reference_tree.json")


def _id(v: dict[str, Any]) -> str:
    return f"{v['source_file']}:{v['desc']}"


def _h(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


@pytest.mark.parametrize("vector", INCLUSION, ids=_id)
def test_inclusion_vector_verdict_matches(vector: dict[str, Any]) -> None:
    args = (
        bytes.fromhex(vector["leaf_hash"]),
        vector["leaf_index"],
        vector["tree_size"],
        _h(vector["proof"]),
        bytes.fromhex(vector["root"]),
    )
    if vector["want_error"]:
        with pytest.raises(vp.InvalidProof):
            vp.verify_inclusion(*args)
    else:
        assert vp.verify_inclusion(*args) is None


@pytest.mark.parametrize("vector", CONSISTENCY, ids=_id)
def test_consistency_vector_verdict_matches(vector: dict[str, Any]) -> None:
    args = (
        vector["size1"],
        vector["size2"],
        bytes.fromhex(vector["root1"]),
        bytes.fromhex(vector["root2"]),
        _h(vector["proof"]),
    )
    if vector["want_error"]:
        with pytest.raises(vp.InvalidProof):
            vp.verify_consistency(*args)
    else:
        assert vp.verify_consistency(*args) is None


def test_real_ct_leaf_input_hashes_to_its_leaf_hash() -> None:
    (vector,) = [v for v in INCLUSION if "leaf_input_hex" in v]
    assert vp.leaf_hash(bytes.fromhex(vector["leaf_input_hex"])).hex() == vector["leaf_hash"]


def test_hashing_matches_reference_tree_nodes_and_roots() -> None:
    leaves = [vp.leaf_hash(bytes.fromhex(x)) for x in TREE["leaf_inputs_hex"]]
    levels = TREE["node_hashes_by_level"]["levels"]
    assert [h.hex() for h in leaves] == levels[0]
    for level in range(1, len(levels)):
        below = [bytes.fromhex(x) for x in levels[level - 1]]
        pairs = [vp.node_hash(below[i], below[i + 1]).hex() for i in range(0, len(below), 2)]
        assert pairs == levels[level]
    for size, root in TREE["root_hash_by_tree_size"].items():
        assert ref.mth(leaves[: int(size)]).hex() == root


def test_hasher_vectors() -> None:
    vectors = TREE["hasher_vectors"]
    assert hashlib.sha256(b"").hexdigest() == vectors["empty"]
    for case in vectors["leaf"]:
        assert vp.leaf_hash(bytes.fromhex(case["input_hex"])).hex() == case["leaf_hash"]
    for case in vectors["node"]:
        got = vp.node_hash(bytes.fromhex(case["left"]), bytes.fromhex(case["right"]))
        assert got.hex() == case["node_hash"]


def test_signed_note_key_id_follows_c2sp() -> None:
    key = Ed25519PrivateKey.generate().public_key()
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    expected = hashlib.sha256(b"example.com/log\n\x01" + raw).digest()[:4]
    assert vp.key_id("example.com/log", raw) == expected


def test_checkpoint_parse_rejects_missing_signature_block() -> None:
    with pytest.raises(vp.InvalidProof):
        vp.parse_checkpoint("origin\n1\n" + base64.b64encode(bytes(32)).decode() + "\n")


def test_script_imports_only_stdlib_and_cryptography() -> None:
    tree = ast.parse(SCRIPT.read_text())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots.add((node.module or "").split(".")[0])
    assert roots - {"__future__", "cryptography"} <= set(sys.stdlib_module_names)


# ---------------------------------------------------------------------- the script, end to end


@pytest.fixture
def bundle_file(sqlite_engine: Engine, signer: ledger.Signer, tmp_path: Path) -> Path:
    with Session(sqlite_engine) as session:
        ledger.append_many(session, [ledger.Event("test.fact", {"n": n}) for n in range(10)])
        ledger.checkpoint(session, signer)
        bundle = ledger.proof_bundle(session, 7, signer.public_key)
        session.commit()
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    (tmp_path / "key.pem").write_text(signer.public_key_pem())
    return path


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    copy = tmp_path / "alone" / "verify_proof.py"  # outside the repository: no project imports
    copy.parent.mkdir(exist_ok=True)
    shutil.copyfile(SCRIPT, copy)
    return subprocess.run(
        [sys.executable, "-I", str(copy), *args],
        capture_output=True,
        text=True,
        cwd=copy.parent,
        check=False,
    )


def test_script_says_ok_for_a_valid_bundle(bundle_file: Path, tmp_path: Path) -> None:
    done = _run(tmp_path, str(bundle_file), "--public-key", str(tmp_path / "key.pem"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("OK: entry 7 is included in the log")
    assert "of size 10 signed by foodtrace.test/ledger" in done.stdout


@pytest.mark.parametrize(
    "field,change",
    [
        ("index", lambda b: 6),
        ("entry", lambda b: base64.b64encode(base64.b64decode(b["entry"]) + b" ").decode()),
        ("inclusion_proof", lambda b: b["inclusion_proof"][:-1]),
        ("checkpoint", lambda b: b["checkpoint"].replace("\n10\n", "\n11\n")),
    ],
)
def test_script_fails_for_a_tampered_bundle(
    bundle_file: Path, tmp_path: Path, field: str, change: Any
) -> None:
    bundle = json.loads(bundle_file.read_text())
    bundle[field] = change(bundle)
    bundle_file.write_text(json.dumps(bundle))
    done = _run(tmp_path, str(bundle_file), "--public-key", str(tmp_path / "key.pem"))
    assert done.returncode == 1
    assert done.stdout.startswith("FAILED: ")


def test_script_fails_with_another_public_key(bundle_file: Path, tmp_path: Path) -> None:
    other = Ed25519PrivateKey.generate().public_key()
    pem = other.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "other.pem").write_bytes(pem)
    done = _run(tmp_path, str(bundle_file), "--public-key", str(tmp_path / "other.pem"))
    assert done.returncode == 1
    assert "not signed by the given public key" in done.stdout


def test_script_warns_when_trusting_the_embedded_key(bundle_file: Path, tmp_path: Path) -> None:
    done = _run(tmp_path, str(bundle_file))
    assert done.returncode == 0
    assert "key embedded in the bundle" in done.stdout


@pytest.fixture
def record_bundle_file(sqlite_engine: Engine, signer: ledger.Signer, tmp_path: Path) -> Path:
    readings = [{"celsius": 3.0 + i / 8, "device": "box-7", "seq": i} for i in range(300)]
    with Session(sqlite_engine) as session:
        ledger.append(session, ledger.Event("test.fact", {}))
        entry = ledger.append_batch(session, ledger.Event("sensor.readings", {}), readings)
        ledger.checkpoint(session, signer)
        record = ledger.prove_record(readings, 123)
        bundle = ledger.proof_bundle(session, entry.index, signer.public_key, record=record)
        session.commit()
    path = tmp_path / "record.json"
    path.write_text(json.dumps(bundle))
    (tmp_path / "key.pem").write_text(signer.public_key_pem())
    return path


def test_script_checks_a_record_through_its_batch_to_the_log(
    record_bundle_file: Path, tmp_path: Path
) -> None:
    done = _run(tmp_path, str(record_bundle_file), "--public-key", str(tmp_path / "key.pem"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("OK: record 123 of 300 in its batch, entry 1 is included")


@pytest.mark.parametrize(
    "change",
    [
        lambda r: {**r, "index": 124},
        lambda r: {**r, "data": base64.b64encode(b'{"celsius":30}').decode()},
        lambda r: {**r, "inclusion_proof": r["inclusion_proof"][1:]},
    ],
    ids=["index", "data", "proof"],
)
def test_script_fails_for_a_tampered_record(
    record_bundle_file: Path, tmp_path: Path, change: Any
) -> None:
    bundle = json.loads(record_bundle_file.read_text())
    bundle["record"] = change(bundle["record"])
    record_bundle_file.write_text(json.dumps(bundle))
    done = _run(tmp_path, str(record_bundle_file), "--public-key", str(tmp_path / "key.pem"))
    assert done.returncode == 1 and done.stdout.startswith("FAILED: ")
