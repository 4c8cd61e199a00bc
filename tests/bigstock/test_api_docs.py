import re

import pytest

pytestmark = pytest.mark.django_db


def test_openapi_schema_is_served(client):
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "BigStock partner API"


def test_interactive_docs_load_without_any_cdn(client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    # Every asset is ours (a random CSRF token may well contain "cdn": look at addresses only).
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", html)
    assert assets and all(url.startswith("/static/drf_spectacular_sidecar/") for url in assets), assets
    assert not re.search(r"(?:https?:)?//[\w.-]+\.\w+/", html)
