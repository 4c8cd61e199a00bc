"""Demo tickets for `make run`: every status, one near its SLA and some past it, an internal note,
a merged duplicate, an attachment, a rated ticket, and canned replies.

Idempotent: tickets are created once per demo partner (a second run finds them). Runs after the
orders demo (INSTALLED_APPS order), so a ticket can point to a real order when there is one.
"""

import datetime as dt

from django.core.files.base import ContentFile
from django.utils import timezone

from orders.models import Order
from partners.audit import Actor
from partners.models import Partner, Role, User

from . import services, sla
from .models import CannedReply, Category, Priority, Status, Ticket

CANNED_REPLIES = [
    ("Accusé de réception", "Bonjour,\n\nMerci pour votre message : nous regardons cela et revenons vers vous "
                            "rapidement.\n\nL'équipe BigStock"),
    ("Demande de précisions", "Bonjour,\n\nPourriez-vous nous indiquer la référence de la commande et, si "
                              "possible, une capture d'écran ?\n\nL'équipe BigStock"),
    ("Colis en cours de réexpédition", "Bonjour,\n\nLe transporteur a retrouvé le colis : il repart aujourd'hui. "
                                       "Le nouveau suivi apparaît sur la commande.\n\nL'équipe BigStock"),
]


def _people(partner: Partner) -> tuple[User, User | None]:
    owner = partner.memberships.filter(role=Role.OWNER).select_related("user").first().user
    member = partner.memberships.exclude(user=owner).select_related("user").first()
    return owner, member.user if member else None


def _backdate(ticket: Ticket, **fields) -> None:
    """Demo only: move a ticket's clock so the queue shows what a real week looks like."""
    Ticket.objects.filter(pk=ticket.pk).update(**fields)


def _tickets_for_durand(partner: Partner, staff: User, now: dt.datetime) -> None:
    owner, member = _people(partner)
    actor = Actor(user=owner)
    order = Order.objects.for_partner(partner).order_by("-created_at").first()

    # Open, first answer due within the hour: "due soon" in the queue.
    near = services.open_ticket(
        partner=partner, actor=actor, category=Category.ORDER, order=order, priority=Priority.HIGH,
        subject="Colis bloqué chez le transporteur",
        body="Bonjour, le suivi n'a pas bougé depuis 4 jours. Le client s'impatiente. Pouvez-vous relancer ?",
        files=[ContentFile(b"Capture du suivi transporteur\nDernier scan : 4 jours\n", name="suivi.txt")],
    )
    due = sla.add_business_hours(now, 0.75)
    _backdate(near, first_response_due_at=due, sla_due_at=due)
    services.reply_as_staff(ticket=near, by=staff, internal=True,
                            body="Transporteur relancé par téléphone, réponse attendue ce matin.")

    # Waiting on the partner: the clock is paused.
    waiting = services.open_ticket(partner=partner, actor=Actor(user=member or owner), category=Category.STOCK,
                                   subject="Stock affiché incorrect",
                                   body="Le portail affiche 0 en stock pour un produit que nous voyons en rayon.")
    services.reply_as_staff(ticket=waiting, by=staff, then=Status.WAITING_ON_PARTNER,
                            body="Bonjour, pouvez-vous nous donner le SKU concerné ?")

    # Resolved: closes by itself in 7 days unless the partner answers.
    resolved = services.open_ticket(partner=partner, actor=actor, category=Category.BILLING,
                                    subject="TVA sur la facture du mois dernier",
                                    body="La TVA appliquée ne correspond pas à notre numéro intracommunautaire.")
    services.reply_as_staff(ticket=resolved, by=staff, then=Status.RESOLVED,
                            body="C'est corrigé : un avoir a été émis et la facture rééditée.")

    # Closed and rated.
    closed = services.open_ticket(partner=partner, actor=actor, category=Category.TECHNICAL,
                                  subject="Erreurs 429 sur l'API", body="Nous recevons des erreurs 429 depuis hier.")
    services.reply_as_staff(ticket=closed, by=staff, then=Status.RESOLVED,
                            body="Votre clé dépassait la limite de votre formule ; elle est relevée.")
    services.close_ticket(ticket=closed, by=staff, notify=False)
    services.rate_ticket(ticket=closed, rating=5, comment="Réponse rapide, merci !", actor=actor)

    # Waiting on staff after the partner's answer, resolution target already missed.
    late = services.open_ticket(partner=partner, actor=actor, category=Category.OTHER,
                                subject="Délais de préparation en période de soldes",
                                body="Quels délais prévoir pour les soldes ?")
    services.reply_as_staff(ticket=late, by=staff, body="Nous vérifions avec l'entrepôt.",
                            then=Status.WAITING_ON_STAFF)
    past = now - dt.timedelta(days=6)
    _backdate(late, created_at=past, first_response_at=past + dt.timedelta(hours=2),
              first_response_due_at=past + dt.timedelta(hours=8), resolution_due_at=now - dt.timedelta(hours=5),
              sla_due_at=now - dt.timedelta(hours=5), assignee=staff)
    services.reply_as_partner(ticket=late, actor=actor, body="Avez-vous du nouveau ?")


def _tickets_for_lumiere(partner: Partner, staff: User, now: dt.datetime) -> None:
    owner, _member = _people(partner)
    actor = Actor(user=owner)
    # Open, first answer long overdue: "breached" at the top of the queue.
    breached = services.open_ticket(partner=partner, actor=actor, category=Category.ORDER,
                                    subject="Commande livrée en double",
                                    body="Notre client a reçu deux colis identiques pour une seule commande.")
    past = now - dt.timedelta(days=5)
    _backdate(breached, created_at=past, first_response_due_at=past + dt.timedelta(days=1),
              sla_due_at=past + dt.timedelta(days=1), last_message_at=past)
    # The same problem, opened twice: merged into the first.
    duplicate = services.open_ticket(partner=partner, actor=actor, category=Category.ORDER,
                                     subject="Commande livrée en double (relance)",
                                     body="Je relance : deux colis pour une commande.")
    services.merge_tickets(duplicate=duplicate, into=breached, by=staff)


def load() -> list[str]:
    for title, body in CANNED_REPLIES:
        CannedReply.objects.get_or_create(title=title, defaults={"body": body})
    staff = User.objects.filter(is_staff=True, is_active=True).order_by("pk").first()
    durand = Partner.objects.filter(legal_name="Maison Durand SARL").first()
    lumiere = Partner.objects.filter(legal_name="Atelier Lumière SAS").first()
    if staff is None or durand is None or lumiere is None:
        return []
    now = timezone.now()
    if not Ticket.objects.for_partner(durand).exists():
        _tickets_for_durand(durand, staff, now)
    if not Ticket.objects.for_partner(lumiere).exists():
        _tickets_for_lumiere(lumiere, staff, now)
    count = Ticket.objects.count()
    return [f"support: {count} tickets in every status (some due soon or breached); queue at /admin/support/ticket/"]
