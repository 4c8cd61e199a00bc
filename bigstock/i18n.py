"""Content stored in both languages (``name_fr`` / ``name_en``): read in the active one."""

from django.utils.translation import get_language


class Bilingual:
    """Model mixin: ``obj.name`` and ``obj.description`` from their ``_fr`` / ``_en`` columns."""

    def in_language(self, field: str) -> str:
        suffix = "en" if (get_language() or "fr").startswith("en") else "fr"
        return getattr(self, f"{field}_{suffix}")

    @property
    def name(self) -> str:
        return self.in_language("name")

    @property
    def description(self) -> str:
        return self.in_language("description")
