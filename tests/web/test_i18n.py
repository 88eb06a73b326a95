from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]


def test_every_extracted_string_has_a_chinese_translation():
    with open(ROOT / "translations/messages.pot", "rb") as f:
        template = read_po(f)
    with open(ROOT / "translations/zh_Hans_CN/LC_MESSAGES/messages.po", "rb") as f:
        catalogue = read_po(f)
    missing = [
        m.id for m in template if m.id and not (catalogue.get(m.id) and catalogue.get(m.id).string)
    ]
    assert missing == []


def test_pages_follow_the_browser_language_then_the_switch(client):
    assert "登录" in client.get("/login", headers={"Accept-Language": "zh-CN"}).get_data(
        as_text=True
    )
    assert "Sign in" in client.get("/login", headers={"Accept-Language": "en"}).get_data(
        as_text=True
    )
    resp = client.get("/lang/en?next=/login", headers={"Accept-Language": "zh-CN"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/login"
    assert "Sign in" in client.get("/login", headers={"Accept-Language": "zh-CN"}).get_data(
        as_text=True
    )


def test_error_pages_are_localised(client):
    zh = client.get("/no-such-page", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    en = client.get("/no-such-page", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "页面不存在" in zh and "does not exist" in en


def test_language_switch_refuses_offsite_redirects(client):
    resp = client.get("/lang/en?next=//evil.example/")
    assert resp.headers["Location"] == "/"
