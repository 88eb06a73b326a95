"""Demo complaints: a handful of cases in different states, one critical, seeded once."""

from sqlmodel import select

from complaints import demo
from complaints.models import Case
from demo.seed import seed_accounts


def test_demo_cases_cover_the_states_and_seeding_twice_adds_nothing(session):
    seed_accounts(session=session)
    demo.seed(session=session)
    first = {c.number: (c.status, c.severity) for c in session.exec(select(Case)).all()}
    demo.seed(session=session)
    again = {c.number: (c.status, c.severity) for c in session.exec(select(Case)).all()}
    assert first == again and len(first) == 5
    statuses = {status for status, _ in first.values()}
    assert {"new", "acknowledged", "investigating", "waiting_for_lab", "closed"} <= statuses
    assert ("investigating", "critical") in first.values()


def test_without_the_demo_accounts_nothing_is_seeded(session):
    demo.seed(session=session)
    assert session.exec(select(Case)).all() == []
