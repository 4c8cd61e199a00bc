"""How the API reads request bodies: DRF's parsers, with their refusals in the caller's language.

DRF writes a body it cannot read as "JSON parse error - Expecting value: line 1 column 1 (char 0)",
in English whatever the request's language. These say the same in French or English, with where
the JSON went wrong; the code stays ``parse_error`` (``bigstock.errors``).
"""

import json

from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except ParseError as error:
            cause = error.__context__  # what json (or the decoding) raised
            if isinstance(cause, json.JSONDecodeError):
                raise ParseError(_("The request body is not valid JSON: %(problem)s at line %(line)d, column "
                                   "%(column)d.") % {"problem": _json_problem(cause), "line": cause.lineno,
                                                     "column": cause.colno}) from None
            if isinstance(cause, UnicodeDecodeError):
                raise ParseError(_("The request body is not valid UTF-8 text.")) from None
            raise ParseError(_("The request body is not valid JSON: numbers must be finite (no NaN or "
                               "Infinity).")) from None


def _json_problem(error: json.JSONDecodeError) -> str:
    """What the json module found, in words a partner's developer reads in their language."""
    problems = [  # json's messages, by how they start
        ("Expecting value", _("a value was expected")),
        ("Expecting property name", _("a name in double quotes was expected")),
        ("Expecting ':'", _("a colon was expected")),
        ("Expecting ','", _("a comma was expected")),
        ("Extra data", _("unexpected text after the JSON")),
        ("Unterminated string", _("a text is not closed")),
        ("Invalid control character", _("a control character must be escaped")),
        ("Invalid \\", _("invalid escape sequence")),
    ]
    return next((problem for start, problem in problems if error.msg.startswith(start)), _("the syntax is wrong"))


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except ParseError:
            raise ParseError(_("The request body is not a valid multipart form: check its Content-Type boundary "
                               "and its parts.")) from None
