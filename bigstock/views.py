"""Error pages: HTML for the portal, the API error format under /api/."""

from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import requires_csrf_token

from .errors import is_api_request, json_error


def _error(request, status_code: int, code: str, title: str, message: str):
    if is_api_request(request):
        return json_error(request, code, message, status_code)
    context = {"status_code": status_code, "title": title, "message": message}
    return render(request, "error.html", context, status=status_code)


@requires_csrf_token
def bad_request(request, exception=None):
    return _error(request, 400, "bad_request", _("Bad request"), _("The request could not be understood."))


@requires_csrf_token
def permission_denied(request, exception=None):
    # A role rule refusing the page says which rule (partners.roles messages are written for people).
    message = str(exception) if exception is not None else ""
    return _error(
        request,
        403,
        "permission_denied",
        _("Access denied"),
        message or _("You do not have permission to view this page."),
    )


@requires_csrf_token
def page_not_found(request, exception=None):
    return _error(
        request,
        404,
        "not_found",
        _("Page not found"),
        _("This page does not exist or is not available to you."),
    )


@requires_csrf_token
def server_error(request):
    return _error(
        request,
        500,
        "server_error",
        _("Something went wrong"),
        _("An unexpected error occurred. Our team has been notified; please try again in a moment."),
    )
