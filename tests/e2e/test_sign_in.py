"""Sign in as each role in a real browser, switch language, sign out; errors and denials."""

import pytest

from demo.seed import DEMO_PASSWORD, seed_accounts

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


@pytest.fixture
def seeded(app):
    from web.db import get_session

    with app.app_context():
        return dict((role, email) for email, role in seed_accounts(session=get_session()))


def sign_in(page, base, email, password=DEMO_PASSWORD):
    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("[data-testid=login-submit]")


def test_every_role_signs_in_sees_its_home_switches_language_and_signs_out(
    live_server, browser_page, seeded
):
    page = browser_page
    for role, email in seeded.items():
        sign_in(page, live_server, email)
        page.wait_for_selector(f"[data-testid=home-{role}]")
        assert page.locator("html").get_attribute("lang") == "en"
        page.click("[data-testid=lang-switch]")
        page.wait_for_selector("html[lang=zh-CN]")
        assert "退出" in page.inner_text("[data-testid=logout]")
        page.click("[data-testid=lang-switch]")
        page.wait_for_selector("html[lang=en]")
        page.click("[data-testid=logout]")
        page.wait_for_selector("[data-testid=login-submit]")
        page.goto(live_server + "/")
        assert page.url.startswith(live_server + "/login")


def test_wrong_password_shows_an_error(live_server, browser_page, seeded):
    sign_in(browser_page, live_server, seeded["desk"], "not the password")
    assert "Wrong email or password" in browser_page.inner_text("[data-testid=login-error]")


def test_a_merchant_cannot_open_an_admin_page(live_server, browser_page, seeded):
    page = browser_page
    sign_in(page, live_server, seeded["merchant"])
    page.wait_for_selector("[data-testid=home-merchant]")
    response = page.goto(live_server + "/admin/users")
    assert response.status == 403
    assert page.locator("[data-testid=error-403]").is_visible()
