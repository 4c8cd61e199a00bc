"""Which files a ticket accepts: an allow-list of types, each recognised by its first bytes
(and, for office documents, by what the archive holds), never by the name alone.

HTML, SVG, scripts and executables are refused whatever they are called: a file is stored
only when its extension is allowed *and* its content is what the extension says. It is then
served with the content type chosen here, never the one the sender claimed.
"""

import os
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.files import File
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bigstock.errors import DomainError

SNIFF_BYTES = 8192
_MARKUP = (b"<!doctype", b"<html", b"<head", b"<body", b"<script", b"<svg", b"<?xml", b"<iframe", b"<object",
           b"<embed", b"<meta", b"<link", b"<style", b"<a ", b"<img", b"<form", b"javascript:")


class AttachmentRefused(DomainError):
    code = "attachment_refused"


class AttachmentTooLarge(AttachmentRefused):
    code = "attachment_too_large"


class AttachmentTypeNotAllowed(AttachmentRefused):
    code = "attachment_type_not_allowed"


class TooManyAttachments(AttachmentRefused):
    code = "too_many_attachments"


def _plain_text(head: bytes, _file) -> bool:
    """Text a person wrote or exported (UTF-8 or a Windows code page), with no markup in it."""
    if not head or b"\x00" in head:
        return False
    if any(byte < 0x20 and byte not in (0x09, 0x0A, 0x0C, 0x0D) for byte in head):
        return False
    lowered = head.lower()
    # UTF-8 or an Excel CSV in cp1252: bytes >= 0x80 are fine; markup is not.
    return not any(marker in lowered for marker in _MARKUP)


def _starts(*signatures: bytes) -> Callable[[bytes, object], bool]:
    return lambda head, _file: head.startswith(signatures)


def _webp(head: bytes, _file) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


def _zip_holding(*names: str, mimetype: bytes = b"") -> Callable[[bytes, object], bool]:
    """An Office Open XML or OpenDocument file: a ZIP archive with the members of its kind."""

    def check(head: bytes, file) -> bool:
        if not head.startswith(b"PK\x03\x04"):
            return False
        try:
            file.seek(0)
            with zipfile.ZipFile(file) as archive:
                members = set(archive.namelist())
                if mimetype:
                    return archive.read("mimetype").strip() == mimetype if "mimetype" in members else False
                return all(any(member.startswith(name) for member in members) for name in names)
        except (zipfile.BadZipFile, KeyError, OSError, RuntimeError):
            return False
        finally:
            file.seek(0)

    return check


@dataclass(frozen=True)
class FileType:
    label: str
    extensions: tuple[str, ...]
    content_type: str
    matches: Callable[[bytes, object], bool]


ALLOWED_TYPES: tuple[FileType, ...] = (
    FileType("PDF", ("pdf",), "application/pdf", _starts(b"%PDF-")),
    FileType("PNG", ("png",), "image/png", _starts(b"\x89PNG\r\n\x1a\n")),
    FileType("JPEG", ("jpg", "jpeg"), "image/jpeg", _starts(b"\xff\xd8\xff")),
    FileType("GIF", ("gif",), "image/gif", _starts(b"GIF87a", b"GIF89a")),
    FileType("WebP", ("webp",), "image/webp", _webp),
    FileType(gettext_lazy("text"), ("txt", "log"), "text/plain", _plain_text),
    FileType("CSV", ("csv",), "text/csv", _plain_text),
    FileType("Excel", ("xlsx",), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             _zip_holding("[Content_Types].xml", "xl/")),
    FileType("Word", ("docx",), "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             _zip_holding("[Content_Types].xml", "word/")),
    FileType("OpenDocument", ("ods",), "application/vnd.oasis.opendocument.spreadsheet",
             _zip_holding(mimetype=b"application/vnd.oasis.opendocument.spreadsheet")),
    FileType("OpenDocument", ("odt",), "application/vnd.oasis.opendocument.text",
             _zip_holding(mimetype=b"application/vnd.oasis.opendocument.text")),
)
_BY_EXTENSION = {extension: kind for kind in ALLOWED_TYPES for extension in kind.extensions}


def allowed_extensions() -> list[str]:
    return [f".{extension}" for kind in ALLOWED_TYPES for extension in kind.extensions]


def allowed_types_text() -> str:
    return ", ".join(allowed_extensions())


def accept_attribute() -> str:
    """For ``<input type=file accept=...>``: the browser's file picker shows what we take."""
    return ",".join(allowed_extensions())


def clean_filename(name: str) -> str:
    """The sender's file name without folders, control characters or surprises, at most 150 characters."""
    name = os.path.basename((name or "").replace("\\", "/"))
    name = unicodedata.normalize("NFC", name)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C" and ch not in '"<>:|?*;').strip(" .")
    stem, extension = os.path.splitext(name)
    return (stem[: 150 - len(extension)] + extension) if name else "file"


@dataclass(frozen=True)
class CheckedFile:
    file: File
    filename: str
    content_type: str
    size_bytes: int


def check_files(files) -> list[CheckedFile]:
    """Every file, or a refusal that says the limit or the allowed types. Nothing is stored here."""
    files = [file for file in files if file is not None]
    limit = settings.BIGSTOCK_SUPPORT_MAX_ATTACHMENTS
    if len(files) > limit:
        raise TooManyAttachments(
            _("At most %(limit)d files per message.") % {"limit": limit},
            fields={"files": [_("At most %(limit)d files per message.") % {"limit": limit}]},
        )
    return [check_file(file) for file in files]


def check_file(file: File) -> CheckedFile:
    filename = clean_filename(getattr(file, "name", "") or "")
    size = file.size
    max_bytes = settings.BIGSTOCK_SUPPORT_MAX_ATTACHMENT_BYTES
    if size > max_bytes:
        message = _("%(name)s is %(size)s: the limit is %(limit)s per file.") % {
            "name": filename, "size": filesizeformat(size), "limit": filesizeformat(max_bytes)}
        raise AttachmentTooLarge(message, fields={"files": [message]}, limit_bytes=max_bytes)
    extension = os.path.splitext(filename)[1].lower().lstrip(".")
    kind = _BY_EXTENSION.get(extension)
    file.seek(0)
    head = file.read(SNIFF_BYTES)
    file.seek(0)
    if kind is None or size == 0 or not kind.matches(head, file):
        if kind is None:
            reason = _("%(name)s: this type of file is not accepted.") % {"name": filename}
        else:
            reason = _("%(name)s is not a real %(type)s file.") % {"name": filename, "type": kind.label}
        message = f"{reason} " + _("Accepted: %(types)s.") % {"types": allowed_types_text()}
        raise AttachmentTypeNotAllowed(message, fields={"files": [message]}, allowed=allowed_extensions())
    return CheckedFile(file=file, filename=filename, content_type=kind.content_type, size_bytes=size)
