"""How the API's lists are paged: by cursor, newest first, with the feed's refusals for a bad
``limit`` or ``cursor`` (400 in the error format, never a silent default or a 404)."""

from django.utils.translation import gettext as _
from rest_framework import exceptions, pagination

from .errors import DomainError


class InvalidCursor(DomainError):
    code = "invalid_cursor"


def invalid_cursor() -> InvalidCursor:
    return InvalidCursor(_("This cursor is not valid: follow the `next` link of a previous page."),
                         fields={"cursor": [_("Not a cursor from this API.")]})


def parse_limit(raw: str, maximum: int) -> int | None:
    """``?limit=`` as a page size from 1 to ``maximum``, or None when it is not one."""
    return int(raw) if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= maximum else None


def limit_refusal(maximum: int) -> str:
    return _("A whole number from 1 to %(max)d.") % {"max": maximum}


class CursorPagination(pagination.CursorPagination):
    """The API's default: newest first, stable under inserts; ``?limit=`` up to 200."""

    ordering = "-created_at"
    page_size_query_param = "limit"
    max_page_size = 200

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        size = parse_limit(raw, self.max_page_size)
        if size is None:
            raise exceptions.ValidationError({self.page_size_query_param: [limit_refusal(self.max_page_size)]})
        return size

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:  # DRF's answer to a cursor it cannot read
            raise invalid_cursor() from None
