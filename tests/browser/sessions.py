"""Signing a browser in without going through the login form, for tests about another page."""

from django.test import Client
from playwright.sync_api import Page


def logged_in(page: Page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                               "url": live_server.url}])
