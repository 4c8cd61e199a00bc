"""Portal forms: what a person types. Business rules stay in ``partners.services`` (and the
models' ``clean``); a form only checks what the browser sent is well-formed."""

import re
from datetime import datetime, time

from django import forms
from django.contrib.auth import password_validation
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bigstock.events import EVENT_TYPES

from . import audit, roles
from .models import ApiKey, Partner, Role, User
from .services import PROFILE_FIELDS


class PartnerProfileForm(forms.Form):
    """The business profile. SIRET, VAT and phone are checked by ``Partner.clean`` in the service."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.update(forms.fields_for_model(Partner, fields=PROFILE_FIELDS))
        # People type identifiers with spaces or dots: accept them, send them compact (see below).
        for name in ["siret", "vat_number"]:
            self.fields[name] = forms.CharField(label=self.fields[name].label, max_length=30, required=False)
        self.fields["siret"].help_text = _("14 digits (or the 9-digit SIREN). Required for a French business.")
        self.fields["vat_number"].help_text = _("With its country code, for example FR12345678901.")
        self.fields["phone"].help_text = _("For example +33 1 23 45 67 89.")

    # The model checks these (and explains what is wrong); its max_length applies first, so
    # the separators a person types are removed here.
    def clean_siret(self):
        return _compact(self.cleaned_data["siret"])

    def clean_vat_number(self):
        return _compact(self.cleaned_data["vat_number"]).upper()


def _compact(value: str) -> str:
    return re.sub(r"[\s.\-/]", "", value)


class RequireTwoFactorForm(forms.Form):
    required = forms.BooleanField(
        label=_("Require two-factor authentication for the whole team"), required=False,
        help_text=_("Every member must set up an authenticator app before using the portal."),
    )


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("Email address"))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.MEMBER)

    def __init__(self, *args, membership, **kwargs):
        super().__init__(*args, **kwargs)
        if not roles.can(membership, "manage_owners"):
            self.fields["role"].choices = [(value, label) for value, label in Role.choices if value != Role.OWNER]


class RoleForm(forms.Form):
    email = forms.EmailField(widget=forms.HiddenInput)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class InvitationSignupForm(forms.Form):
    """Creates the account of someone invited by email (the email is the invitation's)."""

    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)
    password1 = forms.CharField(
        label=_("Password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("Password (again)"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self):
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", _("The two passwords are different."))
        elif password1:
            user = User(email=self.email, first_name=cleaned.get("first_name", ""),
                        last_name=cleaned.get("last_name", ""))
            try:
                password_validation.validate_password(password1, user)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class ApiKeyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("What uses this key, for example “ERP”."))
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"), choices=ApiKey.Scope.choices, widget=forms.CheckboxSelectMultiple,
        initial=[ApiKey.Scope.READ], help_text=_("Read: stock, orders, invoices. Write: send orders and tickets."),
    )
    expires_on = forms.DateField(
        label=_("Expires on"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("Optional. The key stops working at the end of this day (Paris time)."),
    )

    def expires_at(self) -> datetime | None:
        day = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        return timezone.make_aware(datetime.combine(day, time(23, 59, 59)))


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(
        label=_("URL"), max_length=500, assume_scheme="https",
        help_text=_("A public HTTPS address of your system. BigStock sends a POST request for each event."),
    )
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    event_types = forms.MultipleChoiceField(
        label=_("Events"), required=False, widget=forms.CheckboxSelectMultiple,
        help_text=_("Tick none to receive every event, including future ones."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["event_types"].choices = [
            (event_type, f"{event_type} — {meaning}") for event_type, meaning in EVENT_TYPES.items()
        ]


class AuditLogFilterForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"), required=False)

    def __init__(self, *args, actions: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", _("All actions")), *audit.action_choices(actions)]
