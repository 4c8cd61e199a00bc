from django.core.management.base import BaseCommand, CommandError

from inventory.selectors import ledger_differences


class Command(BaseCommand):
    help = "Check that every stock level equals the sum of its movements (and the feed its levels)."

    def handle(self, *args, **options):
        differences = ledger_differences()
        if not differences:
            self.stdout.write(self.style.SUCCESS("The stock ledger balances: every level equals its movements."))
            return
        for difference in differences:
            self.stdout.write(self.style.ERROR(str(difference)))
        raise CommandError(f"{len(differences)} difference(s) between the stock and its ledger")
