from decimal import Decimal

from django import forms
from django.contrib.admin.widgets import AdminDateWidget
from django.utils.translation import gettext_lazy as _

from . import periods
from .models import Payment, Plan


class SubscribeForm(forms.Form):
    """A plan card's button. Which plans are offered is the service's rule; this only reads the id."""

    plan = forms.ModelChoiceField(queryset=Plan.objects.filter(archived_at=None), widget=forms.HiddenInput)
    coupon_code = forms.CharField(label=_("Offer code"), max_length=40, required=False,
                                  help_text=_("Optional: the code of an introductory offer."))


class RecordPaymentForm(forms.Form):
    """Staff record money received for an invoice (bank transfer, cheque...)."""

    amount = forms.DecimalField(label=_("Amount received (€, incl. VAT)"), max_digits=10, decimal_places=2,
                                min_value=Decimal("0.01"), localize=True)
    received_on = forms.DateField(label=_("Received on"), initial=periods.today, widget=AdminDateWidget)
    reference = forms.CharField(label=_("Reference"), max_length=100,
                                help_text=_("The bank statement's label or the transaction id: recording the same "
                                            "reference twice records the payment once."))
    method = forms.ChoiceField(label=_("Method"), choices=Payment.Method.choices, initial=Payment.Method.TRANSFER)

    @property
    def amount_cents(self) -> int:
        return int(self.cleaned_data["amount"] * 100)
