import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db


def test_pages_need_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_sign_in_page_is_public(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b"Sign In" in response.content or b"Sign in" in response.content


def test_sign_in_with_username_shows_home_with_team(client, alice, password):
    response = client.post("/accounts/login/", {"login": "alice", "password": password}, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/"
    assert "Team A" in response.content.decode()


def test_sign_in_with_email(client, alice, password):
    response = client.post("/accounts/login/", {"login": "alice@example.org", "password": password})
    assert response.status_code == 302


def test_wrong_password_is_shown_on_the_form(client, alice):
    response = client.post("/accounts/login/", {"login": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert "not correct" in response.content.decode()


def test_signup_can_be_switched_off(client, settings):
    settings.SIGNUP_ENABLED = False
    response = client.post(
        "/accounts/signup/",
        {"username": "eve", "email": "eve@example.org", "password1": "Sup3r-secret-pw", "password2": "Sup3r-secret-pw"},
    )
    assert not get_user_model().objects.filter(username="eve").exists()
    assert response.status_code == 200
    assert "closed" in response.content.decode().lower()


def test_signup_when_open_creates_user_without_team(client, settings):
    settings.SIGNUP_ENABLED = True
    response = client.post(
        "/accounts/signup/",
        {"username": "eve", "email": "eve@example.org", "password1": "Sup3r-secret-pw", "password2": "Sup3r-secret-pw"},
        follow=True,
    )
    assert get_user_model().objects.filter(username="eve").exists()
    assert "not in a team yet" in response.content.decode()


def test_token_for_correct_password(client, alice, password):
    response = client.post("/api/v1/auth/token/", {"username": "alice", "password": password})
    assert response.status_code == 200
    token = response.json()["token"]
    me = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}")
    assert me.status_code == 200
    assert me.json()["username"] == "alice"
    bearer = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert bearer.json()["username"] == "alice"


@pytest.mark.parametrize("username, pw", [("alice", "wrong"), ("nobody", "whatever")])
def test_token_refused_with_clear_401(client, alice, username, pw):
    response = client.post("/api/v1/auth/token/", {"username": username, "password": pw})
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "invalid_credentials"
    assert "Wrong username or password" in body["message"]


def test_token_request_missing_fields_is_400(client):
    response = client.post("/api/v1/auth/token/", {}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    assert "username" in response.json()["fields"]


def test_api_without_token_is_401_json(client):
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert "Token" in response.json()["message"]


def test_api_with_bad_token_is_401_json(client):
    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION="Token not-a-real-token")
    assert response.status_code == 401
    assert response.json()["error"] == "authentication_failed"


def test_me_lists_teams_and_keeper_flag(api, alice, keeper):
    body = api(alice).get("/api/v1/me/").json()
    assert [t["team"]["slug"] for t in body["teams"]] == ["team-a"]
    assert body["is_keeper"] is False
    assert api(keeper).get("/api/v1/me/").json()["is_keeper"] is True


def test_unknown_api_url_is_json_404(api, alice):
    response = api(alice).get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_schema_and_docs_are_public(client):
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()  # works offline


def test_openapi_schema_is_valid_and_warning_free(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "/api/v1/resources/{resource_id}/credentials/" in (tmp_path / "schema.yaml").read_text()
