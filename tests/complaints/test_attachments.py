"""Photos on a case: type by magic bytes, size limit, stored by SHA-256, who may see them."""

from __future__ import annotations

import base64
import hashlib
import io

import pytest

from complaints.attachments import MAX_ATTACHMENT_BYTES, AttachmentError, sniff_image

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32


@pytest.mark.parametrize(
    ("data", "media_type"), [(PNG, "image/png"), (JPEG, "image/jpeg"), (WEBP, "image/webp")]
)
def test_photos_are_recognised_by_their_first_bytes(data, media_type):
    assert sniff_image(data) == media_type


@pytest.mark.parametrize(
    "data",
    [b"GIF89a....", b"%PDF-1.7", b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"RIFF1234WAVE"],
)
def test_other_files_are_refused_whatever_they_are_called(data):
    with pytest.raises(AttachmentError):
        sniff_image(data)


def upload(client, people, case_id, data, name="photo.png", who="desk"):
    return client.post(
        f"/api/v1/cases/{case_id}/attachments",
        data={"file": (io.BytesIO(data), name)},
        headers=people.auth(who),
        content_type="multipart/form-data",
    )


def test_a_photo_is_stored_under_its_digest_and_served_back(app, client, people, open_case):
    case = open_case()
    resp = upload(client, people, case["id"], PNG)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    digest = hashlib.sha256(PNG).hexdigest()
    assert body["sha256"] == digest and body["media_type"] == "image/png"
    stored = app.extensions["foodtrace"].settings.instance_path / "attachments" / digest
    assert stored.read_bytes() == PNG
    got = client.get(body["url"], headers=people.auth("desk"))
    assert got.status_code == 200 and got.data == PNG and got.mimetype == "image/png"
    assert got.headers["X-Content-Type-Options"] == "nosniff"


def test_a_renamed_non_image_is_refused_naming_the_file_field(client, people, open_case):
    case = open_case()
    resp = upload(client, people, case["id"], b"%PDF-1.4 not a photo", name="photo.jpg")
    assert resp.status_code == 422
    assert resp.get_json()["error"]["details"][0]["field"] == "file"


def test_a_photo_over_5_mb_is_refused(client, people, open_case):
    case = open_case()
    # The multipart body is built here: the test client would spool it to a temporary file
    # that it never closes (an unraisable ResourceWarning under filterwarnings=error).
    boundary = "xXx"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + PNG
        + b"\x00" * MAX_ATTACHMENT_BYTES
        + f"\r\n--{boundary}--\r\n".encode()
    )
    resp = client.post(
        f"/api/v1/cases/{case['id']}/attachments",
        data=body,
        headers=people.auth("desk"),
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert resp.status_code == 413


def test_a_missing_file_is_a_validation_error(client, people, open_case):
    case = open_case()
    resp = client.post(
        f"/api/v1/cases/{case['id']}/attachments", data={}, headers=people.auth("desk"),
        content_type="multipart/form-data",
    )  # fmt: skip
    assert resp.status_code == 422


def test_a_student_adds_photos_to_their_own_case_only(client, people, open_case):
    mine = open_case("student", category="foreign_object", description="Glass")
    theirs = open_case()
    assert upload(client, people, mine["id"], PNG, who="student").status_code == 201
    assert upload(client, people, theirs["id"], PNG, who="student").status_code == 404
    url = f"/api/v1/cases/{mine['id']}/attachments/1"
    assert client.get(url, headers=people.auth("student")).status_code == 200
    assert client.get(url, headers=people.auth("student2")).status_code == 404
    assert client.get(url, headers=people.auth("merchant")).status_code == 403


def test_a_stored_photo_altered_on_disk_is_not_served(app, client, people, open_case):
    case = open_case()
    body = upload(client, people, case["id"], PNG).get_json()
    folder = app.extensions["foodtrace"].settings.instance_path / "attachments"
    (folder / body["sha256"]).write_bytes(JPEG)
    assert client.get(body["url"], headers=people.auth("desk")).status_code == 404
