"""Forms of the catalogue pages and of the staff stock screens."""

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .models import ImportJob, Warehouse

MAX_IMPORT_BYTES = 50 * 1024 * 1024


# --- Portal -------------------------------------------------------------------------------------


class CatalogueFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100,
                        widget=forms.TextInput(attrs={"type": "search",
                                                      "placeholder": _("SKU, name, GTIN or brand")}))
    category = forms.ChoiceField(label=_("Category"), required=False)
    brand = forms.ChoiceField(label=_("Brand"), required=False)
    in_stock = forms.BooleanField(label=_("In stock only"), required=False)

    def __init__(self, *args, categories: list[str], brands: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", _("All categories")), *[(c, c) for c in categories]]
        self.fields["brand"].choices = [("", _("All brands")), *[(b, b) for b in brands]]

    def filter(self, products):
        """The products matching the search and filters (all of them when the form is invalid)."""
        if not self.is_valid():
            return products
        data = self.cleaned_data
        if query := data["q"].strip():
            products = products.filter(Q(sku__icontains=query) | Q(name_fr__icontains=query)
                                       | Q(name_en__icontains=query) | Q(gtin__startswith=query)
                                       | Q(brand__icontains=query))
        if data["category"]:
            products = products.filter(category=data["category"])
        if data["brand"]:
            products = products.filter(brand=data["brand"])
        if data["in_stock"]:
            products = products.filter(availability__available__gt=0)
        return products


# --- Staff ----------------------------------------------------------------------------------------


class StockOperationForm(forms.Form):
    """A correction or a stocktake of one product in one warehouse, always with its reason."""

    ADJUST, COUNT = "adjust", "count"

    warehouse = forms.ModelChoiceField(label=_("Warehouse"), queryset=Warehouse.objects.filter(is_active=True))
    operation = forms.ChoiceField(label=_("Operation"), choices=[
        (ADJUST, _("Adjust: add or remove units (breakage, loss, found goods)")),
        (COUNT, _("Stocktake: set on hand to the counted quantity")),
    ], widget=forms.RadioSelect, initial=ADJUST)
    quantity = forms.IntegerField(label=_("Quantity"), help_text=_(
        "For an adjustment, the change: -3 removes three units, 5 adds five. For a stocktake, what was counted."))
    reason = forms.CharField(label=_("Reason"), max_length=300,
                             help_text=_("Kept in the ledger with your name: “broken in handling”, "
                                         "“annual stocktake”…"))

    def clean(self):
        data = super().clean()
        quantity = data.get("quantity")
        if quantity is not None:
            if data.get("operation") == self.ADJUST and quantity == 0:
                self.add_error("quantity", _("An adjustment cannot be zero."))
            if data.get("operation") == self.COUNT and quantity < 0:
                self.add_error("quantity", _("A counted quantity cannot be negative."))
        return data


class ReceiveForm(forms.Form):
    """One field per line of a receipt: the units that arrived (the outstanding ones by default)."""

    def __init__(self, *args, lines, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = [line for line in lines if line.quantity_outstanding]
        for line in self.lines:
            self.fields[f"line_{line.pk}"] = forms.IntegerField(
                label=f"{line.product.sku} {line.product.name}", min_value=0, max_value=line.quantity_outstanding,
                initial=line.quantity_outstanding,
                help_text=_("%(received)d of %(expected)d received so far")
                % {"received": line.quantity_received, "expected": line.quantity_expected})

    def rows(self):
        return [(line, self[f"line_{line.pk}"]) for line in self.lines]

    @property
    def quantities(self) -> dict[int, int]:
        return {line.pk: self.cleaned_data.get(f"line_{line.pk}") or 0 for line in self.lines}


class ImportForm(forms.Form):
    file = forms.FileField(label=_("File"), help_text=_("CSV (comma or semicolon, UTF-8) or XLSX, first line "
                                                        "naming the columns."),
                           widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx"}))
    mode = forms.ChoiceField(label=_("Quantities"), choices=ImportJob.Mode.choices, initial=ImportJob.Mode.COUNT,
                             widget=forms.RadioSelect)
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False,
                             help_text=_("Kept in the ledger for every quantity changed. Required for adjustments."))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".csv", ".xlsx")):
            raise forms.ValidationError(_("Upload a .csv or .xlsx file."))
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(_("At most 50 MB per file: split it."))
        return upload

    def clean(self):
        data = super().clean()
        if data.get("mode") == ImportJob.Mode.ADJUST and not data.get("reason", "").strip():
            self.add_error("reason", _("Give the reason of these adjustments."))
        return data
