"""Support forms: what a person types. The rules (which order, which files, which status) are
checked by ``support.services`` and ``support.attachments``; refusals come back on the fields."""

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from . import attachments
from .models import CannedReply, Category, Priority, Status, partner_status_choices
from .services import STAFF_NEXT_STATUSES


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; their types and sizes are checked by ``support.attachments``."""

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": attachments.accept_attribute()}))
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(item, initial) for item in data if item]
        return [super().clean(data, initial)] if data else []


def files_field() -> MultipleFileField:
    return MultipleFileField(
        label=_("Files"),
        help_text=_("Up to %(count)d files of %(size)s each: %(types)s.") % {
            "count": settings.BIGSTOCK_SUPPORT_MAX_ATTACHMENTS,
            "size": filesizeformat(settings.BIGSTOCK_SUPPORT_MAX_ATTACHMENT_BYTES),
            "types": attachments.allowed_types_text()},
    )


class TicketForm(forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=200)
    category = forms.ChoiceField(label=_("About"), choices=Category.choices, initial=Category.OTHER)
    order = forms.CharField(
        label=_("Order"), max_length=64, required=False,
        help_text=_("When it is about an order: its reference (pick one of your recent orders)."),
        widget=forms.TextInput(attrs={"list": "recent-orders", "autocomplete": "off"}),
    )
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices, initial=Priority.NORMAL,
                                 help_text=_("Urgent: orders are blocked or customers are affected now."))
    body = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 8}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["files"] = files_field()


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Your reply"), widget=forms.Textarea(attrs={"rows": 6}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["files"] = files_field()


class RatingForm(forms.Form):
    rating = forms.TypedChoiceField(label=_("Your rating"), coerce=int, widget=forms.RadioSelect,
                                    choices=[(n, str(n)) for n in range(1, 6)])
    comment = forms.CharField(label=_("Comment (optional)"), required=False, max_length=2000,
                              widget=forms.Textarea(attrs={"rows": 3}))


class TicketFilterForm(forms.Form):
    ACTIVE = "active"
    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("", _("All tickets")), (ACTIVE, _("Not closed")), *partner_status_choices()])
    category = forms.ChoiceField(label=_("About"), required=False, choices=[("", _("Any subject")), *Category.choices])
    q = forms.CharField(label=_("Search"), required=False, max_length=100,
                        widget=forms.TextInput(attrs={"placeholder": _("Reference or subject")}))


class StaffReplyForm(forms.Form):
    canned = forms.ModelChoiceField(label=_("Canned reply"), queryset=CannedReply.objects.filter(is_active=True),
                                    required=False, help_text=_("Fills the message when it is empty."))
    body = forms.CharField(label=_("Message"), required=False, widget=forms.Textarea(attrs={"rows": 8, "cols": 80}))
    internal = forms.BooleanField(label=_("Internal note (staff only, never sent to the partner)"), required=False)
    then = forms.ChoiceField(label=_("Then"), initial=Status.WAITING_ON_PARTNER,
                             choices=[(status.value, status.label) for status in STAFF_NEXT_STATUSES],
                             help_text=_("The ticket's status after a reply (an internal note changes nothing)."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["files"] = files_field()

    def clean(self):
        cleaned = super().clean()
        if not (cleaned.get("body") or "").strip() and cleaned.get("canned"):
            cleaned["body"] = cleaned["canned"].body
        return cleaned
