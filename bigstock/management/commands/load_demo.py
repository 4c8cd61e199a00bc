"""Load demo data for `make run`: every app may have a ``demo.py`` with ``load() -> list[str]``.

Apps are loaded in INSTALLED_APPS order (the dependency order), each ``load`` is idempotent,
and the lines they return (logins, API keys) are printed at the end.
"""

import os
from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = "Create or refresh the demo data and print the demo logins."

    def handle(self, *args, **options):
        lines: list[str] = []
        for config in apps.get_app_configs():
            module_name = f"{config.name}.demo"
            if find_spec(module_name) is None:
                continue
            with transaction.atomic():
                lines.extend(import_module(module_name).load())
        url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"BigStock is starting on {url}"))
        self.stdout.write(f"  portal   {url}/")
        self.stdout.write(f"  admin    {url}/admin/")
        self.stdout.write(f"  API docs {url}/api/v1/docs/")
        for line in lines:
            self.stdout.write(f"  {line}")
        self.stdout.write("  Stop everything with Ctrl-C.\n")
