import json


def test_users_create_prints_json_with_a_working_token(runner, client):
    result = runner.invoke(
        args=["users", "create", "Desk2@Uni.edu", "--role", "desk", "--password-stdin"],
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["email"] == "desk2@uni.edu" and out["role"] == "desk" and out["id"] > 0
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {out['api_token']}"})
    assert me.json["id"] == out["id"]


def test_merchant_user_needs_a_merchant(runner):
    result = runner.invoke(args=["users", "create", "m@uni.edu", "--role", "merchant"])
    assert result.exit_code != 0
    assert "bound to a merchant" in result.output
