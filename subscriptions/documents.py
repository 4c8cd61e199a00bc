"""Invoice and credit-note PDFs: French legal mentions, PDF/A-3 with a Factur-X XML inside.

Everything printed comes from the document's frozen ``seller`` and ``buyer`` snapshots and its
own lines, never from live partner data: an issued invoice must read the same forever, even
after the partner moves or renames itself. French is the legal language; ``language="en"``
renders a courtesy copy with the same numbers and the same embedded XML.

The XML follows the Factur-X EN 16931 profile (the European norm the French e-invoicing reform
builds on), so the buyer's accounting software reads the amounts without OCR.
"""

import datetime as dt
import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.files.base import ContentFile
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _
from django_countries import countries

from bigstock.money import format_cents

from . import vat
from .models import CreditNote, Invoice, Subscription

FACTURX_LEVEL = "en16931"
INVOICE_TYPE_CODE = "380"  # UNTDID 1001: commercial invoice
CREDIT_NOTE_TYPE_CODE = "381"  # UNTDID 1001: credit note

# EN 16931 VAT category and exemption code per regime. Services sold outside the EU use "G"
# rather than "O" (out of scope), because "O" forbids the seller's VAT number, which French law
# requires on every invoice.
VAT_CATEGORIES = {
    "fr": ("S", ""),
    "eu_reverse_charge": ("AE", "VATEX-EU-AE"),
    "export": ("G", "VATEX-EU-G"),
}

NAMESPACES = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
for _prefix, _uri in NAMESPACES.items():
    ET.register_namespace(_prefix, _uri)


@dataclass(frozen=True)
class Line:
    description: str
    quantity: int
    unit_price_cents: int
    amount_cents: int


@dataclass(frozen=True)
class VatRow:
    """One VAT rate's base and tax. Invoices carry one rate today; the PDF table and the XML are
    per rate anyway, so a second rate is a data change, not a layout change."""

    rate: Decimal
    base_cents: int
    vat_cents: int


@dataclass(frozen=True)
class Document:
    """What an invoice or a credit note says, once, for both the PDF and its Factur-X XML.

    ``notes`` and ``payment_terms`` are worded in the language active when they are read: the
    PDF reads them in its language, the XML always in French.
    """

    type_code: str
    number: str
    issue_date: dt.date
    seller: dict
    buyer: dict
    regime: vat.VatRegime
    lines: list[Line]
    vat_rows: list[VatRow]
    subtotal_cents: int
    vat_cents: int
    total_cents: int
    currency: str = "EUR"
    paid_cents: int = 0
    credited_cents: int = 0
    refunded_cents: int = 0
    period_start: dt.date | None = None
    period_last: dt.date | None = None  # inclusive: what a reader expects after "to"
    due_date: dt.date | None = None
    bank: dict | None = None  # printed for bank-transfer invoices only
    rail: str = ""
    reason: str = ""  # a credit note's CreditNote.Reason
    invoice_number: str = ""  # a credit note's invoice
    invoice_issue_date: dt.date | None = None
    seller_address: dict = field(default_factory=dict)

    @property
    def is_credit_note(self) -> bool:
        return self.type_code == CREDIT_NOTE_TYPE_CODE

    @property
    def title(self) -> str:
        return _("Credit note") if self.is_credit_note else _("Invoice")

    @property
    def vat_category(self) -> str:
        return VAT_CATEGORIES[self.regime.code][0]

    @property
    def balance_cents(self) -> int:
        return self.total_cents - self.paid_cents - self.credited_cents

    @property
    def has_settlements(self) -> bool:
        return bool(self.paid_cents or self.credited_cents)

    @property
    def payment_method(self) -> str:
        return Subscription.Rail(self.rail).label if self.rail else ""

    @property
    def reason_label(self) -> str:
        return CreditNote.Reason(self.reason).label if self.reason else ""

    @property
    def buyer_country_name(self) -> str:
        return str(countries.name(self.buyer.get("country") or "FR"))

    @property
    def payment_terms(self) -> str:
        if self.is_credit_note:
            return _("Credited against invoice %(number)s.") % {"number": self.invoice_number}
        days = (self.due_date - self.issue_date).days  # the invoice's own terms, whatever the setting says today
        if days <= 0:
            return _("Payment on receipt.")
        return _("Payment within %(days)d days.") % {"days": days}

    @property
    def seller_legal_line(self) -> str:
        """The seller's form, share capital and registry (BT-33 in the XML)."""
        parts = []
        if self.seller.get("legal_form") and self.seller.get("share_capital_cents"):
            parts.append(_("%(legal_form)s with a share capital of %(capital)s") % {
                "legal_form": self.seller["legal_form"], "capital": format_cents(self.seller["share_capital_cents"])})
        if self.seller.get("rcs"):
            parts.append(self.seller["rcs"])
        return ", ".join(parts)

    @property
    def notes(self) -> list[tuple[str, str]]:
        """The legal mentions owed on a French B2B invoice (Code de commerce art. L441-9 and
        L441-10), with the UNTDID 4451 subject codes the French e-invoicing rules expect."""
        if self.is_credit_note:
            return []
        return [
            ("AAB", _("Early payment discount: none.")),
            ("PMD", _("Late payment penalties: %(rate)s, due from the day after the due date without "
                      "any reminder being necessary.") % {"rate": settings.BIGSTOCK_LATE_PENALTY_RATE}),
            ("PMT", _("Any late payment also incurs a fixed compensation for recovery costs of 40 € "
                      "(art. L441-10 of the French Commercial Code).")),
        ]


# --- Public API -------------------------------------------------------------------------------


def render_invoice_pdf(*, invoice: Invoice, language: str = "fr") -> bytes:
    """The finalized invoice as a PDF/A-3 with its Factur-X XML. Raises ValueError for a draft,
    which has no number and is not a legal document."""
    return _render(document=_invoice_document(invoice), template="subscriptions/pdf/invoice.html",
                   language=language)


def render_credit_note_pdf(*, credit_note: CreditNote, language: str = "fr") -> bytes:
    """The credit note (avoir) as a PDF/A-3 with its Factur-X XML (type code 381)."""
    return _render(document=_credit_note_document(credit_note), template="subscriptions/pdf/credit_note.html",
                   language=language)


def ensure_invoice_pdf(*, invoice: Invoice) -> None:
    """Render and store the invoice's French PDF once. A draft has no PDF yet: nothing to do."""
    if invoice.number is None or invoice.pdf:
        return
    _store_once(obj=invoice, pdf=render_invoice_pdf(invoice=invoice))


def ensure_credit_note_pdf(*, credit_note: CreditNote) -> None:
    """Render and store the credit note's French PDF once."""
    if credit_note.pdf:
        return
    _store_once(obj=credit_note, pdf=render_credit_note_pdf(credit_note=credit_note))


# --- Building the document ----------------------------------------------------------------------


def _invoice_document(invoice: Invoice) -> Document:
    if invoice.number is None or invoice.issue_date is None:
        raise ValueError(f"Invoice {invoice.public_id} is a draft: finalize it before rendering it.")
    rail = invoice.subscription.rail
    return Document(
        type_code=INVOICE_TYPE_CODE, number=invoice.number, issue_date=invoice.issue_date,
        seller=invoice.seller, buyer=invoice.buyer, regime=vat.REGIMES[invoice.vat_regime],
        lines=[Line(line.description, line.quantity, line.unit_price_cents, line.amount_cents)
               for line in invoice.lines.all()],
        vat_rows=[VatRow(invoice.vat_rate, invoice.subtotal_cents, invoice.vat_cents)],
        subtotal_cents=invoice.subtotal_cents, vat_cents=invoice.vat_cents, total_cents=invoice.total_cents,
        currency=invoice.currency, paid_cents=invoice.amount_paid_cents,
        credited_cents=invoice.amount_credited_cents, period_start=invoice.period_start,
        period_last=invoice.period_end - dt.timedelta(days=1), due_date=invoice.due_date,
        bank=dict(settings.BIGSTOCK_BANK) if rail == Subscription.Rail.MANUAL else None,
        rail=rail, seller_address=_split_address(invoice.seller),
    )


def _credit_note_document(credit_note: CreditNote) -> Document:
    invoice = credit_note.invoice
    return Document(
        type_code=CREDIT_NOTE_TYPE_CODE, number=credit_note.number, issue_date=credit_note.issue_date,
        seller=invoice.seller, buyer=invoice.buyer, regime=vat.REGIMES[invoice.vat_regime],
        lines=[Line(credit_note.description, 1, credit_note.subtotal_cents, credit_note.subtotal_cents)],
        vat_rows=[VatRow(invoice.vat_rate, credit_note.subtotal_cents, credit_note.vat_cents)],
        subtotal_cents=credit_note.subtotal_cents, vat_cents=credit_note.vat_cents,
        total_cents=credit_note.total_cents, currency=invoice.currency, refunded_cents=credit_note.refunded_cents,
        reason=credit_note.reason, invoice_number=invoice.number,
        invoice_issue_date=invoice.issue_date, seller_address=_split_address(invoice.seller),
    )


def _split_address(seller: dict) -> dict:
    """The seller's one-line address (``12 rue X, 69007 Lyon, France``) as Factur-X fields.
    French postcodes are five digits; anything unrecognised stays whole on the first line."""
    parts = [part.strip() for part in seller.get("address", "").split(",") if part.strip()]
    for index, part in enumerate(parts):
        if match := re.fullmatch(r"(\d{5})\s+(.+)", part):
            return {"line": ", ".join(parts[:index]), "postcode": match[1], "city": match[2],
                    "country": seller.get("country", "FR")}
    return {"line": seller.get("address", ""), "postcode": "", "city": "", "country": seller.get("country", "FR")}


# --- Rendering ------------------------------------------------------------------------------------


def _render(*, document: Document, template: str, language: str) -> bytes:
    # Imported here: WeasyPrint loads Pango when imported, and only the billing worker renders.
    from facturx import generate_from_binary
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    with translation.override(language):
        html = render_to_string(template, {"doc": document, "language": language})
        metadata = {
            "author": document.seller.get("legal_name", ""),
            "title": f"{document.title} {document.number}",
            "subject": f"{document.title} {document.number} · {document.buyer.get('legal_name', '')}",
        }
    # The stylesheet is inlined, so nothing is fetched; refusing every scheme but file: makes
    # sure a future <img src="https://..."> fails the render instead of calling out.
    fetcher = URLFetcher(allowed_protocols={"file"}, fail_on_errors=True)
    pdf = HTML(string=html, base_url=str(settings.BASE_DIR), url_fetcher=fetcher).write_pdf(pdf_variant="pdf/a-3b")
    with translation.override("fr"):  # the XML is the legal record: French, whatever the copy's language
        xml = _facturx_xml(document)
    pdf = generate_from_binary(pdf, xml, flavor="factur-x", level=FACTURX_LEVEL, check_xsd=True,
                               pdf_metadata=metadata, lang="en-GB" if language == "en" else "fr-FR")
    return _match_info_to_xmp(pdf)


def _match_info_to_xmp(pdf: bytes) -> bytes:
    """PDF/A requires the Info dictionary to say what the XMP metadata says. factur-x writes its
    own XMP (producer "pypdf", no keywords) but leaves WeasyPrint's producer and an empty
    keywords entry in Info: align them, or validators reject the file."""
    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(io.BytesIO(pdf))
    writer = PdfWriter(clone_from=reader)
    writer.pdf_header = reader.pdf_header  # PDF/A-3 is PDF 1.7; a clone would otherwise say 1.3
    info = {key: value for key, value in (writer.metadata or {}).items() if key != "/Keywords"}
    writer.metadata = {**info, "/Producer": "pypdf"}
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def _store_once(*, obj: Invoice | CreditNote, pdf: bytes) -> None:
    """Save the file as ``<upload_to>/<partner public id>/<number>.pdf`` and record it only if
    no one else did meanwhile: the row is otherwise frozen, and a redelivered task must not
    replace a stored document."""
    obj.pdf.save(f"{obj.partner.public_id}/{obj.number}.pdf", ContentFile(pdf), save=False)
    stored = type(obj).objects.filter(pk=obj.pk, pdf="").update(pdf=obj.pdf.name)
    if not stored:  # a concurrent run won: keep its file, drop ours
        obj.pdf.storage.delete(obj.pdf.name)
        obj.pdf.name = type(obj).objects.values_list("pdf", flat=True).get(pk=obj.pk)


# --- Factur-X XML (EN 16931) --------------------------------------------------------------------


def _facturx_xml(document: Document) -> bytes:
    """The CrossIndustryInvoice for the document; element order follows the Factur-X XSD."""
    root = ET.Element(_tag("rsm:CrossIndustryInvoice"))
    context = _sub(root, "rsm:ExchangedDocumentContext")
    _sub(_sub(context, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", "urn:cen.eu:en16931:2017")

    header = _sub(root, "rsm:ExchangedDocument")
    _sub(header, "ram:ID", document.number)
    _sub(header, "ram:TypeCode", document.type_code)
    _date(header, "ram:IssueDateTime", document.issue_date)
    for subject_code, text in document.notes:
        note = _sub(header, "ram:IncludedNote")
        _sub(note, "ram:Content", text)
        _sub(note, "ram:SubjectCode", subject_code)

    transaction = _sub(root, "rsm:SupplyChainTradeTransaction")
    for position, line in enumerate(document.lines, start=1):
        _line_item(transaction, document, position, line)

    agreement = _sub(transaction, "ram:ApplicableHeaderTradeAgreement")
    seller, buyer = document.seller, document.buyer
    _party(agreement, "ram:SellerTradeParty", name=seller.get("legal_name", ""),
           description=document.seller_legal_line, siren=seller.get("siren", ""),
           address=document.seller_address, email=seller.get("email", ""), vat_number=seller.get("vat_number", ""))
    _party(agreement, "ram:BuyerTradeParty", name=buyer.get("legal_name", ""), description="",
           siren=buyer.get("siren", ""),
           address={"line": buyer.get("address_line1", ""), "line2": buyer.get("address_line2", ""),
                    "postcode": buyer.get("postcode", ""), "city": buyer.get("city", ""),
                    "country": buyer.get("country") or "FR"},
           email=buyer.get("billing_email", ""), vat_number=buyer.get("vat_number", ""))
    _sub(transaction, "ram:ApplicableHeaderTradeDelivery")

    settlement = _sub(transaction, "ram:ApplicableHeaderTradeSettlement")
    if document.bank:
        _sub(settlement, "ram:PaymentReference", document.number)
    _sub(settlement, "ram:InvoiceCurrencyCode", document.currency)
    if document.bank:
        means = _sub(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
        _sub(means, "ram:TypeCode", "58")  # SEPA credit transfer
        account = _sub(means, "ram:PayeePartyCreditorFinancialAccount")
        _sub(account, "ram:IBANID", document.bank["iban"])
        _sub(account, "ram:AccountName", document.bank["holder"])
        _sub(_sub(means, "ram:PayeeSpecifiedCreditorFinancialInstitution"), "ram:BICID", document.bank["bic"])
    category, exemption_code = VAT_CATEGORIES[document.regime.code]
    for row in document.vat_rows:
        tax = _sub(settlement, "ram:ApplicableTradeTax")
        _sub(tax, "ram:CalculatedAmount", _amount(row.vat_cents))
        _sub(tax, "ram:TypeCode", "VAT")
        if exemption_code:
            _sub(tax, "ram:ExemptionReason", document.regime.mention)
        _sub(tax, "ram:BasisAmount", _amount(row.base_cents))
        _sub(tax, "ram:CategoryCode", category)
        if exemption_code:
            _sub(tax, "ram:ExemptionReasonCode", exemption_code)
        _sub(tax, "ram:RateApplicablePercent", _percent(row.rate))
    if document.period_start:
        _period(settlement, document.period_start, document.period_last)
    terms = _sub(settlement, "ram:SpecifiedTradePaymentTerms")
    _sub(terms, "ram:Description", document.payment_terms)
    if document.due_date:
        _date(terms, "ram:DueDateDateTime", document.due_date)
    totals = _sub(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _sub(totals, "ram:LineTotalAmount", _amount(sum(line.amount_cents for line in document.lines)))
    _sub(totals, "ram:TaxBasisTotalAmount", _amount(document.subtotal_cents))
    _sub(totals, "ram:TaxTotalAmount", _amount(document.vat_cents), currencyID=document.currency)
    _sub(totals, "ram:GrandTotalAmount", _amount(document.total_cents))
    # Credit notes are separate documents, not prepayments (BT-113): only money received counts.
    _sub(totals, "ram:TotalPrepaidAmount", _amount(document.paid_cents))
    _sub(totals, "ram:DuePayableAmount", _amount(document.total_cents - document.paid_cents))
    if document.invoice_number:
        referenced = _sub(settlement, "ram:InvoiceReferencedDocument")
        _sub(referenced, "ram:IssuerAssignedID", document.invoice_number)
        issued = _sub(referenced, "ram:FormattedIssueDateTime")
        _sub(issued, "qdt:DateTimeString", f"{document.invoice_issue_date:%Y%m%d}", format="102")
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def _line_item(transaction: ET.Element, document: Document, position: int, line: Line) -> None:
    item = _sub(transaction, "ram:IncludedSupplyChainTradeLineItem")
    _sub(_sub(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", str(position))
    _sub(_sub(item, "ram:SpecifiedTradeProduct"), "ram:Name", line.description)
    # EN 16931 forbids a negative price (BR-27): a credit line is a positive price times a
    # negative quantity, with the same negative line amount.
    sign = -1 if line.unit_price_cents < 0 else 1
    price = _sub(_sub(item, "ram:SpecifiedLineTradeAgreement"), "ram:NetPriceProductTradePrice")
    _sub(price, "ram:ChargeAmount", _amount(abs(line.unit_price_cents)))
    _sub(_sub(item, "ram:SpecifiedLineTradeDelivery"), "ram:BilledQuantity", str(sign * line.quantity),
         unitCode="C62")  # UN/ECE rec. 20: "one"
    settlement = _sub(item, "ram:SpecifiedLineTradeSettlement")
    tax = _sub(settlement, "ram:ApplicableTradeTax")
    _sub(tax, "ram:TypeCode", "VAT")
    _sub(tax, "ram:CategoryCode", document.vat_category)
    _sub(tax, "ram:RateApplicablePercent", _percent(document.vat_rows[0].rate))
    _sub(_sub(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation"), "ram:LineTotalAmount",
         _amount(line.amount_cents))


def _party(parent: ET.Element, tag: str, *, name: str, description: str, siren: str, address: dict,
           email: str, vat_number: str) -> None:
    party = _sub(parent, tag)
    _sub(party, "ram:Name", name)
    if description:
        _sub(party, "ram:Description", description)
    if siren:
        _sub(_sub(party, "ram:SpecifiedLegalOrganization"), "ram:ID", siren, schemeID="0002")  # ICD 0002: SIREN
    postal = _sub(party, "ram:PostalTradeAddress")
    if address.get("postcode"):
        _sub(postal, "ram:PostcodeCode", address["postcode"])
    if address.get("line"):
        _sub(postal, "ram:LineOne", address["line"])
    if address.get("line2"):
        _sub(postal, "ram:LineTwo", address["line2"])
    if address.get("city"):
        _sub(postal, "ram:CityName", address["city"])
    _sub(postal, "ram:CountryID", address["country"])
    if email:
        _sub(_sub(party, "ram:URIUniversalCommunication"), "ram:URIID", email, schemeID="EM")
    if vat_number:
        _sub(_sub(party, "ram:SpecifiedTaxRegistration"), "ram:ID", vat_number, schemeID="VA")


def _tag(name: str) -> str:
    prefix, local = name.split(":")
    return f"{{{NAMESPACES[prefix]}}}{local}"


def _sub(parent: ET.Element, name: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, _tag(name), attributes)
    if text is not None:
        element.text = text
    return element


def _date(parent: ET.Element, name: str, day: dt.date) -> None:
    _sub(_sub(parent, name), "udt:DateTimeString", f"{day:%Y%m%d}", format="102")


def _period(parent: ET.Element, start: dt.date, last: dt.date) -> None:
    period = _sub(parent, "ram:BillingSpecifiedPeriod")
    _date(period, "ram:StartDateTime", start)
    _date(period, "ram:EndDateTime", last)


def _amount(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


def _percent(rate: Decimal) -> str:
    return f"{rate * 100:.2f}"
