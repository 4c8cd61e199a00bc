"""The portal's middleware, each wrapped by ``bigstock.middleware.portal_only`` so that API calls
made with an API key skip it (settings.MIDDLEWARE names these)."""

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware

from partners.middleware import CurrentPartnerMiddleware, RequireTwoFactorMiddleware

from .middleware import portal_only

Sessions = portal_only(SessionMiddleware)
Authentication = portal_only(AuthenticationMiddleware)
Messages = portal_only(MessageMiddleware)
CurrentPartner = portal_only(CurrentPartnerMiddleware)
RequireTwoFactor = portal_only(RequireTwoFactorMiddleware)
