"""``manage.py support_inbound < message.eml``: one raw email from a mail server's pipe.

It always exits 0 once the message is read, whatever became of it (the outcome is printed
and logged in the inbound email log): a non-zero exit would make the mail server bounce the
message to its sender, which is how auto-reply loops start.
"""

import sys

from django.core.management.base import BaseCommand, CommandError

from support import inbound


class Command(BaseCommand):
    help = "Read one raw RFC 822 email on standard input and thread it onto its support ticket."

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", help="read this .eml file instead of standard input")

    def handle(self, *args, path=None, **options):
        if path:
            with open(path, "rb") as handle:
                raw = handle.read()
        else:
            raw = sys.stdin.buffer.read()
        if not raw.strip():
            raise CommandError("no message on standard input")
        record = inbound.receive(raw)
        ticket = record.ticket.reference if record.ticket_id else "-"
        self.stdout.write(f"{record.outcome} {ticket} {record.from_address}")
