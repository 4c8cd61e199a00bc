"""Public ids: a short type prefix and random base-62 characters (``par_3fK9...``).
Database ids never leave the server."""

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_public_id(prefix: str, length: int = 20) -> str:
    # One draw from the system's random source for the whole id (not one per character): these
    # are made on every order and event.
    number = secrets.randbelow(len(_ALPHABET) ** length)
    characters = []
    for _position in range(length):
        number, digit = divmod(number, len(_ALPHABET))
        characters.append(_ALPHABET[digit])
    return f"{prefix}_{''.join(characters)}"


class PublicIdDefault:
    """A migration-serialisable default for a public id field with ``prefix``."""

    def __init__(self, prefix: str):
        self.prefix = prefix

    def __call__(self) -> str:
        return new_public_id(self.prefix)

    def deconstruct(self):
        return ("bigstock.ids.PublicIdDefault", (self.prefix,), {})

    def __eq__(self, other):
        return isinstance(other, PublicIdDefault) and other.prefix == self.prefix

    def __hash__(self):
        return hash(self.prefix)


def public_id_field(prefix: str):
    from django.db import models
    from django.utils.translation import gettext_lazy as _

    return models.CharField(_("public id"), max_length=40, unique=True, editable=False,
                            default=PublicIdDefault(prefix))
