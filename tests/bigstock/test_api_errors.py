import pytest

from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def assert_error_format(response, status, code):
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert isinstance(error["fields"], dict)
    return error


@pytest.mark.parametrize("url", ["/api/nothing-here", "/api/v1/does-not-exist", "/api/v2/orders"])
def test_unknown_api_url_answers_404_in_the_error_format(client, url):
    assert_error_format(client.get(url), 404, "not_found")
    assert_error_format(client.post(url, {}), 404, "not_found")


def test_an_unknown_url_is_written_as_every_other_answer_compact_and_in_utf8(client):
    response = client.get("/api/v1/nowhere", HTTP_ACCEPT_LANGUAGE="fr")
    assert response.content.decode() == ('{"error":{"code":"not_found","message":"Aucun point d\'accès de l\'API à '
                                         'cette adresse.","fields":{}}}')


def test_unsupported_method_answers_405_in_the_error_format(client):
    assert_error_format(client.delete("/api/v1/"), 405, "method_not_allowed")


def test_every_response_carries_a_request_id_and_keeps_a_valid_incoming_one(client):
    generated = client.get("/api/v1/")
    assert len(generated["X-Request-ID"]) == 32
    echoed = client.get("/api/v1/", HTTP_X_REQUEST_ID="partner-trace-0001")
    assert echoed["X-Request-ID"] == "partner-trace-0001"
    refused = client.get("/api/v1/", HTTP_X_REQUEST_ID="bad id <script>")
    assert refused["X-Request-ID"] != "bad id <script>"


def test_request_id_is_written_in_log_lines(client, caplog):
    caplog.set_level("WARNING", logger="django.request")
    response = client.get("/api/v1/does-not-exist", HTTP_X_REQUEST_ID="trace-in-logs-42")
    assert response.status_code == 404
    from bigstock.middleware import RequestIdLogFilter

    records = [r for r in caplog.records if r.name == "django.request"]
    assert records
    for record in records:
        RequestIdLogFilter().filter(record)
    assert {r.request_id for r in records} == {"trace-in-logs-42"}


@pytest.mark.urls("tests.bigstock.urls")
def test_validation_errors_name_each_field(client):
    client.force_login(UserFactory())
    response = client.post("/api/v1/test-echo", {"quantity": 0}, content_type="application/json")
    error = assert_error_format(response, 400, "invalid")
    assert set(error["fields"]) == {"name", "quantity"}


@pytest.mark.urls("tests.bigstock.urls")
def test_malformed_json_is_a_parse_error(client):
    client.force_login(UserFactory())
    response = client.post("/api/v1/test-echo", "{not json", content_type="application/json")
    assert_error_format(response, 400, "parse_error")


@pytest.mark.urls("tests.bigstock.urls")
@pytest.mark.parametrize(("body", "language", "message"), [
    ('{"name": "a",\n "quantity" 2}', "en", "The request body is not valid JSON: a colon was expected at line 2, "
                                             "column 13."),
    ('{"name": "a"} x', "fr", "Le corps de la requête n'est pas du JSON valide : texte inattendu après le JSON à "
                              "la ligne 1, colonne 15."),
    ('{"quantity": NaN}', "en", "The request body is not valid JSON: numbers must be finite (no NaN or Infinity)."),
    (b'\xff{}', "en", "The request body is not valid UTF-8 text."),
])
def test_unreadable_json_is_explained_in_the_callers_language(client, body, language, message):
    client.force_login(UserFactory())
    response = client.post("/api/v1/test-echo", body, content_type="application/json", HTTP_ACCEPT_LANGUAGE=language)
    assert assert_error_format(response, 400, "parse_error")["message"] == message


def test_an_unreadable_multipart_body_is_explained(client):
    client.force_login(MembershipFactory().user)
    response = client.post("/api/v1/tickets", b"--x\r\n", content_type="multipart/form-data",
                           HTTP_ACCEPT_LANGUAGE="en")
    error = assert_error_format(response, 400, "parse_error")
    assert error["message"] == ("The request body is not a valid multipart form: check its Content-Type boundary "
                                "and its parts.")


@pytest.mark.urls("tests.bigstock.urls")
def test_anonymous_call_to_a_protected_endpoint_is_refused_in_the_error_format(client):
    response = client.post("/api/v1/test-echo", {}, content_type="application/json")
    assert_error_format(response, 401, "not_authenticated")


@pytest.mark.urls("tests.bigstock.urls")
def test_throttled_requests_get_429_with_retry_after(client):
    from django.core.cache import cache

    cache.clear()
    responses = [client.get("/api/v1/test-throttled") for _ in range(3)]
    assert [r.status_code for r in responses[:2]] == [200, 200]
    error = assert_error_format(responses[2], 429, "throttled")
    assert error["retry_after_s"] > 0
