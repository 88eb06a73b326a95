"""Platform policy in profiles.json: defaults every ingest and judge uses, with their source."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from sensors.profiles import ProfileConfigError, _config, get_profile, parse_policy, policy


def test_policy_comes_from_configuration_with_a_source():
    data = _config()
    assert data["platform"]["source"]
    got = policy()
    assert got.max_gap == timedelta(minutes=data["platform"]["max_gap_minutes"])
    assert got.future_skew == timedelta(minutes=data["platform"]["future_skew_minutes"])
    assert got.max_readings_per_batch == data["platform"]["max_readings_per_batch"] == 10_000


def test_no_profile_name_means_the_configured_default():
    assert get_profile(None).name == _config()["platform"]["default_profile"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("default_profile", "nowhere"),
        ("max_gap_minutes", -1),
        ("max_readings_per_batch", 0),
        ("max_readings_per_batch", True),
        ("future_skew_minutes", "5"),
    ],
)
def test_malformed_policy_is_refused(key, value):
    data = copy.deepcopy(_config())
    data["platform"][key] = value
    with pytest.raises(ProfileConfigError):
        parse_policy(data)
    del data["platform"]
    with pytest.raises(ProfileConfigError):
        parse_policy(data)
