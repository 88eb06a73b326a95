"""The ordering flow's tunables come from the environment in production, like every setting."""

import app as composition
from orders.rules import OrdersConfig


def test_orders_tunables_in_the_environment_reach_the_running_app(tmp_path):
    env = {
        "FOODTRACE_INSTANCE": str(tmp_path / "instance"),
        "ORDERS_USER_PER_MINUTE": "3",
        "ORDERS_MAX_IN_FLIGHT": "17",
        "ORDER_RETENTION_DAYS": "400",
        "UNRELATED_SECRET": "not copied",
    }
    flask_app = composition.create_app(composition.Settings.from_env(env=env, testing=True))
    try:
        config = OrdersConfig.from_mapping(flask_app.config)
        assert config.user_orders_per_minute == 3
        assert config.max_in_flight == 17
        assert config.retention_days == 400
        assert "UNRELATED_SECRET" not in flask_app.config
    finally:
        composition.engine_of(flask_app).dispose()
