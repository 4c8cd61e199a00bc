"""Attachments: allowed types recognised by content, size limits, private storage, and only the
partner (and staff) can download them, never another partner, never an internal note's file."""

import io
import zipfile
from pathlib import Path

import openpyxl
import pytest
from django.conf import settings as django_settings
from django.test import Client

from partners.models import Role
from support import attachments, services
from tests.factories import MembershipFactory, make_api_key
from tests.support.conftest import PDF, PNG, upload

pytestmark = pytest.mark.django_db


def _xlsx() -> bytes:
    workbook = openpyxl.Workbook()
    workbook.active["A1"] = "SKU"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _zip(member: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(member, "x")
    return buffer.getvalue()


@pytest.mark.parametrize(("name", "content", "content_type"), [
    ("invoice.pdf", PDF, "application/pdf"),
    ("Screenshot 2026-03-02.PNG", PNG, "image/png"),
    ("photo.jpeg", b"\xff\xd8\xff\xe0" + b"\x00" * 20, "image/jpeg"),
    ("stock.csv", "sku;quantité\nTEA-1;3\n".encode("cp1252"), "text/csv"),
    ("notes.txt", "Bonjour, voici les détails.\n".encode(), "text/plain"),
    ("stock.xlsx", _xlsx(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
])
def test_allowed_files_are_recognised_by_their_content(name, content, content_type):
    checked = attachments.check_file(upload(name, content))
    assert checked.content_type == content_type and checked.size_bytes == len(content)


@pytest.mark.parametrize(("name", "content"), [
    ("page.html", b"<html><body>hi</body></html>"),
    ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
    ("notes.txt", b"<!DOCTYPE html><html><script>alert(1)</script>"),  # HTML in disguise
    ("data.csv", b'<svg onload="alert(1)">'),
    ("run.exe", b"MZ\x90\x00"),
    ("script.js", b"alert(1)"),
    ("invoice.pdf", PNG),  # not what its name says
    ("image.png", b"%PDF-1.7"),
    ("stock.xlsx", _zip("evil.html")),  # a ZIP, but not a spreadsheet
    ("empty.txt", b""),
    ("binary.txt", b"abc\x00def"),
    ("noextension", PDF),
])
def test_forbidden_or_disguised_files_are_refused_with_the_allowed_types(name, content):
    with pytest.raises(attachments.AttachmentTypeNotAllowed) as refused:
        attachments.check_file(upload(name, content))
    assert ".pdf, .png, .jpg, .jpeg" in refused.value.message
    assert refused.value.fields["files"] == [refused.value.message]
    assert refused.value.code == "attachment_type_not_allowed"


def test_an_oversized_file_is_refused_with_the_limit(settings):
    settings.BIGSTOCK_SUPPORT_MAX_ATTACHMENT_BYTES = 1000
    with pytest.raises(attachments.AttachmentTooLarge) as refused:
        attachments.check_file(upload("big.pdf", PDF + b"0" * 2000))
    assert "the limit is 1000\xa0bytes per file" in refused.value.message
    assert refused.value.details == {"limit_bytes": 1000}


def test_too_many_files_are_refused(settings):
    files = [upload(f"{n}.png", PNG) for n in range(settings.BIGSTOCK_SUPPORT_MAX_ATTACHMENTS + 1)]
    with pytest.raises(attachments.TooManyAttachments, match="At most 3 files"):
        attachments.check_files(files)


def test_file_names_are_cleaned():
    assert attachments.clean_filename("../../etc/passwd.txt") == "passwd.txt"
    assert attachments.clean_filename('C:\\Users\\a\\"bad";name.pdf') == "badname.pdf"
    assert attachments.clean_filename("a\r\nb.txt") == "ab.txt"
    assert len(attachments.clean_filename("x" * 500 + ".pdf")) == 150


def test_files_are_stored_privately_under_the_partners_folder(open_ticket, partner, settings):
    ticket = open_ticket(files=[upload("invoice.pdf", PDF)])
    attachment = ticket.attachments.get()
    assert attachment.file.name.startswith(f"tickets/{partner.public_id}/{ticket.public_id}/")
    assert attachment.file.name.endswith(f"{attachment.public_id}.pdf")
    path = Path(attachment.file.path)
    assert path.read_bytes() == PDF
    assert Path(settings.BIGSTOCK_SUPPORT_ATTACHMENTS_DIR) in path.parents
    assert Path(django_settings.MEDIA_ROOT) not in path.parents  # never served as a media file
    with pytest.raises(ValueError):
        attachment.file.url  # noqa: B018 - no public URL exists


def test_a_refused_file_stores_nothing(open_ticket):
    with pytest.raises(attachments.AttachmentTypeNotAllowed):
        open_ticket(files=[upload("ok.pdf", PDF), upload("bad.html", b"<html></html>")])
    from support.models import Ticket

    assert not Ticket.objects.exists()


def _client(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def test_the_partner_downloads_its_file_safely(open_ticket, owner):
    ticket = open_ticket(files=[upload("notes.txt", b"<b>not html</b> just text\n")])
    attachment = ticket.attachments.get()
    response = _client(owner.user).get(f"/support/attachments/{attachment.public_id}/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain"
    assert response["Content-Disposition"] == 'attachment; filename="notes.txt"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content) == b"<b>not html</b> just text\n"


def test_another_partner_guessing_the_url_gets_404(open_ticket):
    ticket = open_ticket(files=[upload("invoice.pdf", PDF)])
    attachment = ticket.attachments.get()
    other = MembershipFactory(role=Role.OWNER)
    _key, secret = make_api_key(other.partner, created_by=other)
    assert _client(other.user).get(f"/support/attachments/{attachment.public_id}/").status_code == 404
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get(f"/api/v1/ticket-attachments/{attachment.public_id}").status_code == 404
    assert api.get(f"/api/v1/ticket-attachments/{attachment.public_id}/content").status_code == 404
    # Nor does the file's storage path lead anywhere.
    assert _client(other.user).get(f"/media/{attachment.file.name}").status_code == 404


def test_an_internal_notes_file_is_for_staff_only(open_ticket, owner, staff, partner):
    ticket = open_ticket()
    note = services.reply_as_staff(ticket=ticket, by=staff, body="carrier's report", internal=True,
                                   files=[upload("carrier.pdf", PDF)])
    attachment = note.attachments.get()
    _key, secret = make_api_key(partner, created_by=owner)
    assert _client(owner.user).get(f"/support/attachments/{attachment.public_id}/").status_code == 404
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get(f"/api/v1/ticket-attachments/{attachment.public_id}/content").status_code == 404
    response = _client(staff).get(f"/admin/support/ticket/attachment/{attachment.public_id}/")
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")


def test_a_partner_cannot_use_the_staff_download(open_ticket, owner):
    ticket = open_ticket(files=[upload("invoice.pdf", PDF)])
    attachment = ticket.attachments.get()
    response = _client(owner.user).get(f"/admin/support/ticket/attachment/{attachment.public_id}/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_portal_upload_of_a_forbidden_file_shows_the_allowed_types(owner):
    response = _client(owner.user).post("/support/new/", {
        "subject": "Look", "category": "other", "priority": "normal", "body": "See file",
        "files": [upload("page.html", b"<html></html>")],
    })
    assert response.status_code == 200
    assert response.context["form"].errors["files"][0].startswith("page.html: this type of file is not accepted.")
    assert "Accepted: .pdf" in response.content.decode()


def test_api_upload_refusals_say_the_limit_or_the_types(partner, owner, settings):
    settings.BIGSTOCK_SUPPORT_MAX_ATTACHMENT_BYTES = 100
    _key, secret = make_api_key(partner, created_by=owner)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}", HTTP_ACCEPT_LANGUAGE="en")
    data = {"subject": "x", "body": "y", "files": [upload("big.pdf", PDF + b"0" * 200)]}
    response = api.post("/api/v1/tickets", data)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "attachment_too_large"
    assert response.json()["error"]["limit_bytes"] == 100
    response = api.post("/api/v1/tickets", {"subject": "x", "body": "y", "files": [upload("x.svg", b"<svg/>")]})
    assert response.json()["error"]["code"] == "attachment_type_not_allowed"
    assert ".pdf" in response.json()["error"]["allowed"]


def test_uploads_through_the_api_are_stored_and_listed(partner, owner):
    _key, secret = make_api_key(partner, created_by=owner)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = api.post("/api/v1/tickets", {"subject": "x", "body": "y",
                                            "files": [upload("a.png", PNG), upload("b.pdf", PDF)]})
    assert response.status_code == 201, response.content
    [message] = response.json()["messages"]
    assert [a["filename"] for a in message["attachments"]] == ["a.png", "b.pdf"]
    content = api.get(message["attachments"][1]["content_url"])
    assert content.status_code == 200 and content["Content-Type"] == "application/pdf"
