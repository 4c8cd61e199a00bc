"""Emails to partners: the French text, then the English one below a rule, under a French subject.

A partner's team mixes both languages and an address does not say which one its reader prefers, so
every email BigStock sends a partner carries both (staff-only alerts are in French).
"""

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

RULE = "\n\n----------\n\n"


def bilingual(template: str, context: dict, *, subject_prefix: str | None = None) -> tuple[str, str]:
    """Subject and body from ``<template>_subject.txt`` and ``<template>.txt``, the subject after
    ``subject_prefix`` (by default the site's, ``ACCOUNT_EMAIL_SUBJECT_PREFIX``). The English
    rendering gets ``again`` set, for a text quoted once, in the first part."""
    parts = []
    for language in ("fr", "en"):
        with translation.override(language):
            parts.append(render_to_string(f"{template}.txt", {**context, "again": bool(parts)}).strip())
    with translation.override("fr"):
        subject = render_to_string(f"{template}_subject.txt", context).strip()
    prefix = settings.ACCOUNT_EMAIL_SUBJECT_PREFIX if subject_prefix is None else subject_prefix
    return f"{prefix}{subject}", RULE.join(parts) + "\n"
