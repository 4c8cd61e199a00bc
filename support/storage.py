"""Where ticket attachments live: a private file storage with no public URL.

Files sit under ``BIGSTOCK_SUPPORT_ATTACHMENTS_DIR`` (default: ``private/`` next to
``MEDIA_ROOT``, which the development server does not serve), so the only way to read one
is a view that checks who asks. The location is read on every use, so tests can move it.
"""

import os
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage


class PrivateStorage(FileSystemStorage):
    @property
    def base_location(self):
        configured = settings.BIGSTOCK_SUPPORT_ATTACHMENTS_DIR
        return str(configured) if configured else str(Path(settings.MEDIA_ROOT).parent / "private")

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    def url(self, name):
        raise ValueError("ticket attachments have no public URL: support.views.AttachmentView serves them")


_storage = PrivateStorage()


def attachment_storage() -> PrivateStorage:
    return _storage
