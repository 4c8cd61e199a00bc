"""How the API's answers are chosen and written: JSON by orjson, and content negotiation that
answers the usual ``Accept`` without parsing it.

Both are DRF's own behaviour made cheaper for the calls partners' systems make thousands of times
an hour (the stock feed's page of 100 rows spent more in ``json.dumps`` than in PostgreSQL).
"""

import orjson
from rest_framework import negotiation, renderers
from rest_framework.settings import api_settings

_DRF_ENCODER = renderers.JSONRenderer.encoder_class()
# Dates and times go to DRF's encoder, so they read as they always have (UTC with ``Z``, milliseconds);
# orjson writes the rest itself: dicts, lists, strings (DRF's ErrorDetail among them), numbers.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


class JSONRenderer(renderers.JSONRenderer):
    """DRF's JSON renderer, the same bytes, written by orjson. An indented answer (the browsable
    API, ``Accept: application/json; indent=4``) is left to DRF's."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if accepted_media_type != self.media_type or (renderer_context or {}).get("indent") is not None:
            return super().render(data, accepted_media_type, renderer_context)
        body = orjson.dumps(data, default=_DRF_ENCODER.default, option=_OPTIONS)
        if b"\xe2\x80\xa8" in body or b"\xe2\x80\xa9" in body:  # as DRF: JSON that is also valid JavaScript
            body = body.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
        return body


class ContentNegotiation(negotiation.DefaultContentNegotiation):
    """DRF's negotiation, with the answer to the usual request given at once: no ``Accept``,
    ``*/*`` or ``application/json``, and no ``?format=``, get the first renderer's type (JSON)."""

    _USUAL = frozenset(("*/*", "application/json"))

    def select_renderer(self, request, renderers, format_suffix=None):
        if (request.META.get("HTTP_ACCEPT", "*/*") in self._USUAL and not format_suffix
                and renderers[0].media_type == "application/json"
                and api_settings.URL_FORMAT_OVERRIDE not in request.query_params):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)


class FileNegotiation(negotiation.BaseContentNegotiation):
    """For endpoints that answer a file (a PDF, an attachment) whatever ``Accept`` says, and their
    errors in JSON."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
