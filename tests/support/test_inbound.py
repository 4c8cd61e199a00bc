"""Email into tickets: threading by the signed reply address, loop prevention, unknown senders."""

import io
from email.message import EmailMessage

import pytest
from django.core import mail
from django.core.management import call_command

from partners.models import Role
from support import emails, inbound, services
from support.models import InboundEmail, Message, Status
from tests.factories import MembershipFactory, UserFactory
from tests.support.conftest import PNG

pytestmark = pytest.mark.django_db

Outcome = InboundEmail.Outcome


def raw_email(*, sender, to, body="Here are the details.", subject="Re: [T-2026-00001] Parcel stuck",
              headers=None, message_id="<abc@shop.example>", attachments=()) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    for filename, content, maintype, subtype in attachments:
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


def reply_to(ticket) -> str:
    return f"support+{emails.reply_token(ticket)}@bigstock.example"


QUOTED = """Here is the SKU: TEA-1.

Le lun. 2 mars 2026 à 12:00, BigStock Support <support@bigstock.example> a écrit :
> —— Répondez au-dessus de cette ligne · Reply above this line ——
> Which SKU?
"""


def test_a_reply_threads_onto_its_ticket_without_the_quoted_history(open_ticket, owner, staff):
    ticket = open_ticket()
    services.reply_as_staff(ticket=ticket, by=staff, body="Which SKU?")
    record = inbound.receive(raw_email(sender=f"Alice <{owner.user.email.upper()}>", to=reply_to(ticket),
                                       body=QUOTED))
    assert record.outcome == Outcome.THREADED and record.ticket == ticket
    message = record.message
    assert message.body == "Here is the SKU: TEA-1."
    assert (message.source, message.from_staff, message.author_user) == ("email", False, owner.user)
    ticket.refresh_from_db()
    assert ticket.status == Status.WAITING_ON_STAFF

    again = inbound.receive(raw_email(sender=owner.user.email, to=reply_to(ticket), body=QUOTED))
    assert again.outcome == Outcome.DUPLICATE
    assert ticket.messages.filter(source="email").count() == 1


def test_a_staff_member_can_answer_by_email(open_ticket, staff):
    ticket = open_ticket()
    record = inbound.receive(raw_email(sender=staff.email, to=reply_to(ticket), body="We are on it."))
    assert record.outcome == Outcome.THREADED and record.message.from_staff
    assert not record.message.is_internal
    ticket.refresh_from_db()
    assert ticket.first_response_at is not None and ticket.status == Status.WAITING_ON_PARTNER


def test_the_address_case_and_cc_do_not_matter(open_ticket, owner):
    ticket = open_ticket()
    raw = raw_email(sender=owner.user.email, to="someone@shop.example", headers={"Cc": reply_to(ticket).upper()})
    assert inbound.receive(raw).outcome == Outcome.THREADED


def test_a_tampered_or_missing_token_threads_nothing(open_ticket, owner):
    ticket = open_ticket()
    token = emails.reply_token(ticket)
    forged = token[:-4] + ("0000" if not token.endswith("0000") else "1111")
    record = inbound.receive(raw_email(sender=owner.user.email, to=f"support+{forged}@bigstock.example"))
    assert record.outcome == Outcome.BAD_TOKEN
    record = inbound.receive(raw_email(sender=owner.user.email, to="support@bigstock.example",
                                       message_id="<other@shop.example>"))
    assert record.outcome == Outcome.NO_TICKET
    assert ticket.messages.count() == 1


def test_an_unknown_sender_is_logged_for_staff_and_not_answered(open_ticket, partner):
    ticket = open_ticket()
    outsider = MembershipFactory(role=Role.OWNER)  # a member of another partner
    for sender in ("stranger@elsewhere.example", outsider.user.email):
        mail.outbox.clear()
        record = inbound.receive(raw_email(sender=sender, to=reply_to(ticket), message_id=f"<{sender}>"))
        assert record.outcome == Outcome.UNKNOWN_SENDER
        assert record.ticket is None and record.message is None
        assert ticket.reference in record.note and record.body_excerpt == "Here are the details."
        assert mail.outbox == []
    assert ticket.messages.count() == 1
    assert InboundEmail.objects.filter(outcome=Outcome.UNKNOWN_SENDER).count() == 2


@pytest.mark.parametrize("headers", [
    {"Auto-Submitted": "auto-replied"},
    {"Auto-Submitted": "auto-generated"},
    {"Precedence": "bulk"},
    {"Precedence": "auto_reply"},
    {"Precedence": "list"},
    {"X-Autoreply": "yes"},
    {"X-Autorespond": "Out of office"},
    {"List-Id": "<partners.shop.example>"},
    {"X-BigStock-Ticket": "T-2026-00001"},
])
def test_automatic_mail_is_never_threaded_nor_answered(open_ticket, owner, headers, django_capture_on_commit_callbacks):
    ticket = open_ticket()
    with django_capture_on_commit_callbacks(execute=True):
        record = inbound.receive(raw_email(sender=owner.user.email, to=reply_to(ticket), headers=headers))
    assert record.outcome == Outcome.AUTO_REPLY
    assert ticket.messages.count() == 1 and mail.outbox == []


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@mx.shop.example", "no-reply@bigstock.example",
                                    "support@bigstock.example"])
def test_mail_from_robots_and_from_ourselves_is_ignored(open_ticket, sender):
    ticket = open_ticket()
    assert inbound.receive(raw_email(sender=sender, to=reply_to(ticket))).outcome == Outcome.AUTO_REPLY


def test_auto_submitted_no_is_a_person(open_ticket, owner):
    ticket = open_ticket()
    record = inbound.receive(raw_email(sender=owner.user.email, to=reply_to(ticket), headers={"Auto-Submitted": "no"}))
    assert record.outcome == Outcome.THREADED


def test_our_own_notification_coming_back_does_not_loop(open_ticket, owner, staff, django_capture_on_commit_callbacks):
    """An auto-forward sends our email back to the reply address: it is recognised and dropped."""
    ticket = open_ticket()
    with django_capture_on_commit_callbacks(execute=True):
        services.reply_as_staff(ticket=ticket, by=staff, body="Which SKU?")
    [sent] = mail.outbox
    bounced = sent.message()
    del bounced["To"]
    bounced["To"] = sent.reply_to[0]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        record = inbound.receive(bounced.as_bytes())
    assert record.outcome == Outcome.AUTO_REPLY
    assert mail.outbox == [] and ticket.messages.count() == 2


def test_email_to_a_closed_ticket_is_refused_with_one_notice_a_day(open_ticket, owner, staff,
                                                                  django_capture_on_commit_callbacks):
    ticket = open_ticket()
    services.close_ticket(ticket=ticket, by=staff, notify=False)
    for number in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            record = inbound.receive(raw_email(sender=owner.user.email, to=reply_to(ticket),
                                               message_id=f"<late-{number}@shop.example>"))
        assert record.outcome == Outcome.TICKET_CLOSED and record.ticket == ticket
    [notice] = mail.outbox
    assert notice.to == [owner.user.email]
    assert notice.extra_headers["Auto-Submitted"] == "auto-replied"
    assert "closed" in notice.body and "/support/new/" in notice.body
    assert not ticket.messages.filter(source="email").exists()


def test_a_reply_to_a_merged_ticket_lands_on_the_one_it_was_merged_into(open_ticket, owner, staff):
    original, duplicate = open_ticket(), open_ticket()
    services.merge_tickets(duplicate=duplicate, into=original, by=staff)
    record = inbound.receive(raw_email(sender=owner.user.email, to=reply_to(duplicate)))
    assert record.outcome == Outcome.THREADED and record.ticket == original


def test_attached_files_are_checked_like_uploads(open_ticket, owner):
    ticket = open_ticket()
    raw = raw_email(sender=owner.user.email, to=reply_to(ticket), attachments=[
        ("screenshot.png", PNG, "image", "png"),
        ("page.html", b"<html><script>alert(1)</script></html>", "text", "html"),
    ])
    record = inbound.receive(raw)
    assert record.outcome == Outcome.THREADED
    assert [a.filename for a in record.message.attachments.all()] == ["screenshot.png"]
    assert "page.html" in record.note


def test_an_email_with_nothing_to_add_is_logged(open_ticket, owner):
    ticket = open_ticket()
    record = inbound.receive(raw_email(sender=owner.user.email, to=reply_to(ticket), body="> only a quote\n"))
    assert record.outcome == Outcome.EMPTY


def test_html_only_mail_is_read_as_text(open_ticket, owner):
    ticket = open_ticket()
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = owner.user.email, reply_to(ticket), "Re"
    message.set_content("<p>Hello <b>team</b></p><p>Line two</p>", subtype="html")
    record = inbound.receive(message.as_bytes())
    assert record.message.body == "Hello team\nLine two"


def test_the_management_command_reads_a_file_or_standard_input(open_ticket, owner, monkeypatch, tmp_path):
    ticket = open_ticket()
    path = tmp_path / "message.eml"
    path.write_bytes(raw_email(sender=owner.user.email, to=reply_to(ticket)))
    out = io.StringIO()
    call_command("support_inbound", str(path), stdout=out)
    assert out.getvalue().startswith(f"threaded {ticket.reference}")

    stdin = io.TextIOWrapper(io.BytesIO(raw_email(sender="x@y.example", to=reply_to(ticket), message_id="<2@x>")))
    monkeypatch.setattr("sys.stdin", stdin)
    out = io.StringIO()
    call_command("support_inbound", stdout=out)
    assert out.getvalue().startswith("unknown_sender")


def test_the_inbound_endpoint_needs_its_secret(client, settings, open_ticket, owner):
    ticket = open_ticket()
    raw = raw_email(sender=owner.user.email, to=reply_to(ticket))
    url = "/support/inbound-email"
    settings.BIGSTOCK_SUPPORT_INBOUND_SECRET = ""
    assert client.post(url, raw, content_type="message/rfc822").status_code == 404
    settings.BIGSTOCK_SUPPORT_INBOUND_SECRET = "s3cret-relay"
    assert client.post(url, raw, content_type="message/rfc822",
                       HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    response = client.post(url, raw, content_type="message/rfc822", HTTP_AUTHORIZATION="Bearer s3cret-relay")
    assert response.status_code == 202 and response.json()["outcome"] == "threaded"
    assert Message.objects.filter(ticket=ticket, source="email").exists()


def test_staff_replies_by_email_keep_a_resolved_ticket_resolved(open_ticket, staff):
    ticket = open_ticket()
    services.reply_as_staff(ticket=ticket, by=staff, body="Done", then=Status.RESOLVED)
    inbound.receive(raw_email(sender=staff.email, to=reply_to(ticket), body="One more detail."))
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED


def test_an_inactive_user_is_an_unknown_sender(open_ticket):
    ticket = open_ticket()
    former = UserFactory(is_active=False)
    MembershipFactory(user=former, partner=ticket.partner)
    assert inbound.receive(raw_email(sender=former.email, to=reply_to(ticket))).outcome == Outcome.UNKNOWN_SENDER
