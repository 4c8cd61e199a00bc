"""API authentication: ``Authorization: Bearer bsk_...`` keys, plus the portal's session."""

from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions

from bigstock.errors import DomainError

from . import services
from .models import ApiKey


class ApiKeyPrincipal:
    """``request.user`` for a request made with an API key: the partner's system, not a person."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key
        self.pk = None

    def __str__(self) -> str:
        return str(self.api_key)


class ApiKeyAuthenticationFailed(exceptions.AuthenticationFailed):
    def __init__(self, error: DomainError):
        super().__init__(detail=error.message, code=error.code)
        self.error_code = error.code
        self.status_code = error.status_code  # 401, or 403 for a closed partner's key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _sep, raw = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        raw = raw.strip()
        if not raw:
            raise ApiKeyAuthenticationFailed(services.UnknownApiKey(_("The Authorization header has no key.")))
        try:
            key = services.authenticate_api_key(raw)
        except services.ApiKeyError as error:
            raise ApiKeyAuthenticationFailed(error) from None
        # The partner comes from the key, and only from the key.
        request._request.partner = key.partner
        request._request.membership = None
        return ApiKeyPrincipal(key), key

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'
