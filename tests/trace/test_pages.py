"""The trace pages render what the services return, for the roles that may see them."""

from __future__ import annotations

import io

import pytest

from tests.trace.test_api import receiving_csv, row
from trace import demo
from web.db import get_session


@pytest.fixture
def seeded(app):
    with app.app_context():
        demo.seed(session=get_session())


def page(client, caller, url):
    answer = client.get(url, headers=caller.headers)
    assert answer.status_code == 200, (url, answer.status_code)
    return answer.get_data(as_text=True)


def test_the_upload_page_offers_the_form_and_both_languages_templates(client, callers):
    html = page(client, callers["merchant"], "/trace/uploads")
    assert 'name="file"' in html and 'name="csrf_token"' in html
    for kind in ("receiving", "production"):
        for lang in ("zh-CN", "en"):
            assert f'data-testid="template-{kind}-{lang}-xlsx"' in html
    assert "upload-form" not in page(client, callers["desk"], "/trace/uploads")
    download = client.get(
        "/trace/templates/receiving.csv?lang=zh-CN", headers=callers["merchant"].headers
    )
    assert download.status_code == 200 and "收货日期" in download.get_data(as_text=True)


def test_an_upload_from_the_page_shows_its_rows_errors(client, callers, campus):
    data = receiving_csv([row("A"), row("B", quantity="abc")])
    answer = client.post(
        "/trace/uploads",
        data={"file": (io.BytesIO(data), "lots.csv"), "kind": "receiving"},
        headers=callers["merchant"].headers,
        content_type="multipart/form-data",
    )
    assert answer.status_code == 302
    html = page(client, callers["merchant"], answer.headers["Location"])
    assert 'data-testid="upload-rejected"' in html
    assert "<td>3</td>" in html and "数量" in html and "is not a number" in html  # zh-CN default


def test_the_graph_page_draws_the_trace(client, callers, seeded):
    html = page(client, callers["desk"], "/trace/graph?kind=lot&id=1&direction=forward")
    assert "<svg" in html and "N-SALAD-0301" in html and "E-SALAD-0301" in html
    assert 'data-testid="trace-form"' in page(client, callers["desk"], "/trace/graph")


def test_completeness_pages_show_scores_and_the_expiring_certificate(client, callers, seeded):
    html = page(client, callers["admin"], "/trace/completeness")
    merchants = 5  # the test campus's two and the demo's three
    assert (
        html.count('data-testid="merchant-row"') == merchants and "嘉定禽业 Jiading Poultry" in html
    )
    mine = page(client, callers["merchant"], "/trace/merchant")
    assert "北区食堂 North Canteen" in mine and "100.0%" in mine


def test_master_data_pages_list_and_create(client, callers, seeded):
    admin = callers["admin"].headers
    form = {
        "name": "New Farm",
        "licence_number": "SC-NEW",
        "certificate_kind": "SC",
        "certificate_number": "7",
        "certificate_expires_on": "2031-01-01",
    }
    assert client.post("/trace/suppliers", data=form, headers=admin).status_code == 303
    assert "New Farm" in page(client, callers["merchant"], "/trace/suppliers")
    merchant = {"name": "西区 West", "licence_number": "JY-W", "licence_expires_on": "2030-01-01"}
    assert client.post("/trace/merchants", data=merchant, headers=admin).status_code == 303
    assert "西区 West" in page(client, callers["desk"], "/trace/merchants")
    refused = client.post("/trace/merchants", data=merchant, headers=admin)
    assert refused.status_code == 303  # shown again with the reason
    assert client.post("/trace/products", data={"name": "Tofu"}, headers=admin).status_code == 303
    assert "Tofu" in page(client, callers["merchant"], "/trace/products")
    assert "LET-0301-A" in page(client, callers["desk"], "/trace/records")
    assert "LET-0301-A" not in page(client, callers["merchant"], "/trace/records")  # not its lot
