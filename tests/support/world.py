"""Support objects for the tenant-isolation walk (tests/test_tenant_isolation.py)."""

from django.core.files.base import ContentFile

from partners.audit import Actor
from partners.models import User
from support import services

PDF = b"%PDF-1.7\n%%EOF\n"


def add_support_objects(world) -> None:
    """A's ticket about A's own order: a message with a file, and a staff note with a file."""
    from tests.support.conftest import make_order

    order = world.extra.get("order") or make_order(world.partner)
    ticket = services.open_ticket(
        partner=world.partner, actor=Actor(user=world.owner.user), subject="Parcel stuck", body="Nothing moves.",
        category="order", order=order, files=[ContentFile(PDF, name="proof.pdf")],
    )
    staff = User.objects.filter(is_staff=True).first() or User.objects.create_user(
        f"staff-{world.partner.public_id}@bigstock.example", is_staff=True)
    note = services.reply_as_staff(ticket=ticket, by=staff, body="internal", internal=True,
                                   files=[ContentFile(PDF, name="internal.pdf")])
    world.extra.update(ticket=ticket, attachment=ticket.attachments.get(message__is_internal=False),
                       internal_attachment=note.attachments.get())
