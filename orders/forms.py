"""Portal forms for orders: what a person types. The rules (stock, references, address checks)
stay in ``orders.services``; a form checks the browser sent something well-formed and shows the
service's refusals next to the right field or line."""

from dataclasses import dataclass, field

from django import forms
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from bigstock.errors import DomainError

from .models import CarrierService, Order, OrderLine, Status
from .services import SHIP_TO_FIELDS, LineIn

MAX_QUANTITY = 100_000


def _ship_to_field(name: str) -> forms.Field:
    """The form field of an address part, with the model's label and length."""
    model_field = Order._meta.get_field(f"ship_to_{name}")
    if name == "country":
        return forms.ChoiceField(label=model_field.verbose_name.capitalize(), choices=list(countries), initial="FR")
    if name == "email":
        return forms.EmailField(label=model_field.verbose_name.capitalize(), required=False)
    return forms.CharField(label=model_field.verbose_name.capitalize(), max_length=model_field.max_length,
                           required=not model_field.blank)


class AddressForm(forms.Form):
    """The end customer's delivery address (on a new order, and to fix an order on hold)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        for name in SHIP_TO_FIELDS:
            self.fields[name] = _ship_to_field(name)
        self.fields["phone"].help_text = _("With the country code, for example +33 6 12 34 56 78: the "
                                                      "carrier calls the recipient.")
        self.fields["phone"].required = True

    @classmethod
    def for_order(cls, order: Order, data=None) -> "AddressForm":
        initial = {name: getattr(order, f"ship_to_{name}") for name in SHIP_TO_FIELDS}
        initial["country"] = str(order.ship_to_country)
        return cls(data, initial=initial)

    def ship_to(self) -> dict:
        return {name: self.cleaned_data[name] for name in SHIP_TO_FIELDS}

    def show(self, error: DomainError) -> None:
        """A refusal of the service, next to the fields it names (``ship_to.postcode`` → postcode)."""
        for name, messages in error.fields.items():
            name = name.removeprefix("ship_to.")
            if name in self.fields:
                for message in messages:
                    self.add_error(name, message)
        self.add_error(None, error.message)


@dataclass
class LineRow:
    """One line of the new-order form as typed, with what to show next to it."""

    sku: str
    quantity_text: str
    quantity: int | None = None
    errors: list[str] = field(default_factory=list)
    product: object = None  # a ``views.ProductRow`` when the SKU is known


class OrderForm(AddressForm):
    """A new order: reference, address, options, and any number of lines (``line_sku`` and
    ``line_quantity`` repeated, one pair per row, added and removed with htmx)."""

    field_order = ["reference"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reference"] = forms.CharField(
            label=_("Your reference"), max_length=64,
            help_text=_("Your own order number: each reference can be used once."))
        self.fields["notes"] = forms.CharField(label=_("Notes for the warehouse"), required=False, max_length=2000,
                                               widget=forms.Textarea(attrs={"rows": 2}))
        self.fields["carrier_service"] = forms.ChoiceField(label=_("Carrier service"), choices=CarrierService.choices,
                                                           initial=CarrierService.STANDARD)
        self.fields["backorder"] = forms.BooleanField(
            label=_("Accept a backorder"), required=False,
            help_text=_("If some items are short, reserve what is in stock and keep the order on hold for the rest. "
                        "Otherwise the order is refused and nothing is reserved."))
        self.order_fields(["reference", *SHIP_TO_FIELDS, "carrier_service", "notes", "backorder"])
        self.rows = self._rows()

    def _rows(self) -> list[LineRow]:
        if not self.is_bound:
            return []
        skus, quantities = self.data.getlist("line_sku"), self.data.getlist("line_quantity")
        rows = []
        for sku, quantity in zip(skus, quantities + [""] * (len(skus) - len(quantities)), strict=True):
            if sku.strip() or quantity.strip():
                rows.append(LineRow(sku=sku.strip().upper(), quantity_text=quantity.strip()))
        return rows

    def clean(self):
        cleaned = super().clean()
        for row in self.rows:
            if not row.sku:
                row.errors.append(_("Give the SKU."))
            if len(row.sku) > 64:
                row.errors.append(_("A SKU has at most 64 characters."))
            try:
                row.quantity = int(row.quantity_text)
            except ValueError:
                row.quantity = None
            if row.quantity is None or not 1 <= row.quantity <= MAX_QUANTITY:
                row.errors.append(_("The quantity must be a whole number from 1 to %(max)d.") % {"max": MAX_QUANTITY})
        if not self.rows:
            raise forms.ValidationError(_("Add at least one line: search a product, then add it."))
        if any(row.errors for row in self.rows):
            raise forms.ValidationError(_("Some lines are not valid: see below."))
        return cleaned

    def lines(self) -> list[LineIn]:
        return [LineIn(row.sku, row.quantity) for row in self.rows]

    def options(self) -> dict:
        return {"reference": self.cleaned_data["reference"], "notes": self.cleaned_data["notes"],
                "carrier_service": self.cleaned_data["carrier_service"], "backorder": self.cleaned_data["backorder"]}

    def show(self, error: DomainError) -> None:
        """Per line when the service names SKUs (unknown, short of stock) or line numbers."""
        fields = dict(error.fields)
        by_sku: dict[str, list[str]] = {}
        for shortage in error.details.get("lines", []):
            by_sku.setdefault(shortage["sku"], []).append(
                _("Only %(available)d available: lower the quantity, or accept a backorder.") % shortage)
            fields.pop("lines", None)
        for sku in error.details.get("skus", []):
            by_sku.setdefault(sku, []).append(_("Unknown SKU, or no longer sold."))
            fields.pop("sku", None)
        for row in self.rows:
            row.errors.extend(by_sku.get(row.sku, []))
        for index, row in enumerate(self.rows):
            for part in ("sku", "quantity"):
                row.errors.extend(fields.pop(f"lines[{index}].{part}", []))
        if "reference" in fields:
            self.add_error("reference", fields.pop("reference"))
        super().show(DomainError(error.message, fields=fields))


class OrderFilterForm(forms.Form):
    """The filters of the orders list (and of its CSV export)."""

    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("Any status")), *Status.choices])
    reference = forms.CharField(label=_("Reference"), required=False, max_length=64)
    sku = forms.CharField(label=_("SKU"), required=False, max_length=64)
    submitted_from = forms.DateField(label=_("Submitted from"), required=False,
                                     widget=forms.DateInput(attrs={"type": "date"}))
    submitted_to = forms.DateField(label=_("to"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def filter(self, orders):
        if not self.is_valid():
            return orders.none() if self.is_bound else orders
        data = self.cleaned_data
        if data["status"]:
            orders = orders.filter(status=data["status"])
        if data["reference"]:
            orders = orders.filter(reference__icontains=data["reference"].strip())
        if data["sku"]:
            orders = orders.filter(Exists(OrderLine.objects.filter(order=OuterRef("pk"),
                                                                   sku__iexact=data["sku"].strip())))
        if data["submitted_from"]:
            orders = orders.filter(submitted_at__date__gte=data["submitted_from"])
        if data["submitted_to"]:
            orders = orders.filter(submitted_at__date__lte=data["submitted_to"])
        return orders


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Why (optional)"), required=False, max_length=500)


class ImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file"), help_text=_("UTF-8, separated by commas or semicolons, with the "
                                                            "column names on the first line."))
