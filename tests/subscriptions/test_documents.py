import datetime as dt
import io
import re
import xml.etree.ElementTree as ET

import pytest
from facturx import xml_check_xsd
from pypdf import PdfReader

from partners.audit import SYSTEM
from subscriptions import documents, services
from subscriptions.models import CreditNote, Invoice
from tests.factories import MembershipFactory, PartnerFactory, PlanFactory

pytestmark = pytest.mark.django_db

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
}
APRIL_1ST = dt.date(2026, 4, 1)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def partner():
    return MembershipFactory().partner


def invoice_for(partner, *, price_cents=9900, rail="manual", day=APRIL_1ST) -> Invoice:
    """A full month (no proration) on a plan at ``price_cents`` excl. VAT, finalized."""
    subscription = services.subscribe(partner=partner, plan=PlanFactory(price_cents=price_cents), actor=SYSTEM,
                                      rail=rail, today=day)
    return Invoice.objects.get(subscription=subscription)


def pdf_text(pdf: bytes) -> str:
    """The PDF's text with spaces normalised (French numbers use no-break spaces)."""
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ").replace("\u202f", " "))


def facturx_xml(pdf: bytes) -> ET.Element:
    attachments = PdfReader(io.BytesIO(pdf)).attachments
    assert list(attachments) == ["factur-x.xml"]
    return ET.fromstring(attachments["factur-x.xml"][0])  # noqa: S314 (our own output)


def xml_value(root: ET.Element, path: str) -> str:
    return root.find(path, NS).text


def test_french_invoice_carries_every_legal_mention(partner):
    invoice = invoice_for(partner)

    text = pdf_text(documents.render_invoice_pdf(invoice=invoice))

    assert "Facture" in text and "BS-2026-000001" in text
    # Seller: legal name, form and capital, address, SIREN, RCS, VAT number.
    assert "BigStock SAS" in text and "SAS au capital de 100 000,00 €" in text
    assert "12 rue des Entrepôts, 69007 Lyon, France" in text
    assert "732829320" in text and "RCS Lyon 732 829 320" in text and "FR44732829320" in text
    # Buyer: legal name, address, country, SIREN.
    assert partner.legal_name in text and "10 rue de la Paix" in text and "75002 Paris" in text
    assert "France" in text and partner.siren in text
    # Dates: issue, service period (end inclusive), due date.
    assert "1 avril 2026" in text and "30 avril 2026" in text and "16 avril 2026" in text
    # Amounts, French formatting.
    assert "99,00 €" in text and "19,80 €" in text and "118,80 €" in text and "20 %" in text
    # Payment terms and the mentions of art. L441-9 and L441-10 of the Code de commerce.
    assert "Paiement à 15 jours" in text
    assert "3 fois le taux d'intérêt légal" in text
    assert "indemnité forfaitaire pour frais de recouvrement de 40 €" in text
    assert "Escompte pour paiement anticipé : néant" in text
    # Bank transfer: where to pay and which reference to quote.
    assert "FR7630006000011234567890189" in text and "AGRIFRPP" in text
    assert "Référence à indiquer BS-2026-000001" in text


def test_invoice_shows_the_identities_frozen_at_finalization_not_the_partners_current_ones(partner):
    invoice = invoice_for(partner)
    former_name = partner.legal_name
    partner.legal_name = "Renamed Later SARL"
    partner.save()

    text = pdf_text(documents.render_invoice_pdf(invoice=Invoice.objects.get(pk=invoice.pk)))

    assert former_name in text and "Renamed Later" not in text


def test_reverse_charge_invoice_prints_autoliquidation_and_no_vat():
    partner = MembershipFactory(partner=PartnerFactory(country="BE", vat_number="BE0403170701", siret="",
                                                       postcode="1000", city="Bruxelles")).partner
    invoice = invoice_for(partner)

    pdf = documents.render_invoice_pdf(invoice=invoice)

    text = pdf_text(pdf)
    assert "Autoliquidation - TVA due par le preneur" in text
    assert "BE0403170701" in text and "Belgique" in text
    assert "99,00 €" in text and "0,00 €" in text
    xml = facturx_xml(pdf)
    tax = xml.find(".//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax", NS)
    assert xml_value(tax, "ram:CategoryCode") == "AE"
    assert xml_value(tax, "ram:ExemptionReasonCode") == "VATEX-EU-AE"
    assert xml_value(tax, "ram:CalculatedAmount") == "0.00"
    buyer = xml.find(".//ram:BuyerTradeParty", NS)
    assert xml_value(buyer, "ram:SpecifiedTaxRegistration/ram:ID") == "BE0403170701"
    assert buyer.find("ram:SpecifiedLegalOrganization", NS) is None  # no SIREN outside France


def test_embedded_facturx_xml_is_valid_en16931_with_number_totals_and_identities(partner):
    invoice = invoice_for(partner)

    pdf = documents.render_invoice_pdf(invoice=invoice)

    xml = facturx_xml(pdf)
    assert xml_check_xsd(ET.tostring(xml), flavor="factur-x", level="en16931")
    assert xml_value(xml, ".//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") == "urn:cen.eu:en16931:2017"
    assert xml_value(xml, "rsm:ExchangedDocument/ram:ID") == "BS-2026-000001"
    assert xml_value(xml, "rsm:ExchangedDocument/ram:TypeCode") == "380"
    assert xml_value(xml, "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString") == "20260401"
    seller = xml.find(".//ram:SellerTradeParty", NS)
    assert xml_value(seller, "ram:SpecifiedLegalOrganization/ram:ID") == "732829320"
    assert seller.find("ram:SpecifiedLegalOrganization/ram:ID", NS).get("schemeID") == "0002"
    assert xml_value(seller, "ram:SpecifiedTaxRegistration/ram:ID") == "FR44732829320"
    assert seller.find("ram:SpecifiedTaxRegistration/ram:ID", NS).get("schemeID") == "VA"
    assert xml_value(seller, "ram:PostalTradeAddress/ram:PostcodeCode") == "69007"
    buyer = xml.find(".//ram:BuyerTradeParty", NS)
    assert xml_value(buyer, "ram:Name") == partner.legal_name
    assert xml_value(buyer, "ram:SpecifiedLegalOrganization/ram:ID") == partner.siren
    settlement = xml.find(".//ram:ApplicableHeaderTradeSettlement", NS)
    assert xml_value(settlement, "ram:InvoiceCurrencyCode") == "EUR"
    assert xml_value(settlement, "ram:PaymentReference") == "BS-2026-000001"
    assert xml_value(settlement, ".//ram:IBANID") == "FR7630006000011234567890189"
    assert xml_value(settlement, "ram:ApplicableTradeTax/ram:RateApplicablePercent") == "20.00"
    assert xml_value(settlement, ".//ram:DueDateDateTime/udt:DateTimeString") == "20260416"
    totals = settlement.find("ram:SpecifiedTradeSettlementHeaderMonetarySummation", NS)
    assert {child.tag.split("}")[1]: child.text for child in totals} == {
        "LineTotalAmount": "99.00", "TaxBasisTotalAmount": "99.00", "TaxTotalAmount": "19.80",
        "GrandTotalAmount": "118.80", "TotalPrepaidAmount": "0.00", "DuePayableAmount": "118.80",
    }
    notes = {xml_value(note, "ram:SubjectCode"): xml_value(note, "ram:Content")
             for note in xml.findall(".//ram:IncludedNote", NS)}
    assert set(notes) == {"AAB", "PMD", "PMT"} and "néant" in notes["AAB"]


def test_invoice_pdf_declares_pdfa_3(partner):
    pdf = documents.render_invoice_pdf(invoice=invoice_for(partner))

    reader = PdfReader(io.BytesIO(pdf))
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert re.search(r"<pdfaid:part>3</pdfaid:part>|pdfaid:part=\"3\"", xmp)
    assert "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#" in xmp
    assert "/OutputIntents" in reader.trailer["/Root"]


def test_proration_credit_line_is_a_negative_quantity_at_a_positive_price(partner):
    subscription = services.subscribe(partner=partner, plan=PlanFactory(price_cents=4900), actor=SYSTEM,
                                      today=APRIL_1ST)
    services.change_plan(subscription=subscription, plan=PlanFactory(price_cents=9900), actor=SYSTEM,
                         today=dt.date(2026, 4, 16))
    proration = Invoice.objects.get(kind=Invoice.Kind.PRORATION)

    pdf = documents.render_invoice_pdf(invoice=proration)

    assert "-24,50 €" in pdf_text(pdf)  # 4900 x 15/30, credited
    lines = facturx_xml(pdf).findall(".//ram:IncludedSupplyChainTradeLineItem", NS)
    credit = lines[0]
    assert xml_value(credit, ".//ram:BilledQuantity") == "-1"
    assert xml_value(credit, ".//ram:ChargeAmount") == "24.50"
    assert xml_value(credit, ".//ram:LineTotalAmount") == "-24.50"
    assert sum(float(xml_value(line, ".//ram:LineTotalAmount")) for line in lines) == pytest.approx(
        proration.subtotal_cents / 100)


def test_english_copy_says_invoice_with_english_labels_and_the_same_xml(partner):
    invoice = invoice_for(partner, rail="stripe")

    pdf = documents.render_invoice_pdf(invoice=invoice, language="en")

    text = pdf_text(pdf)
    assert "Invoice" in text and "Facture" not in text
    assert "118.80 €" in text and "April 16, 2026" in text
    assert "Early payment discount: none" in text
    assert "Collected automatically: Card or SEPA Direct Debit" in text
    assert "IBAN" not in text  # no bank details when the rail collects
    assert xml_value(facturx_xml(pdf), "rsm:ExchangedDocument/ram:ID") == invoice.number


def test_ensure_invoice_pdf_stores_once_under_the_partners_folder(partner, settings):
    invoice = invoice_for(partner)

    documents.ensure_invoice_pdf(invoice=invoice)
    stored = Invoice.objects.get(pk=invoice.pk)
    documents.ensure_invoice_pdf(invoice=stored)

    assert stored.pdf.name == f"invoices/{partner.public_id}/BS-2026-000001.pdf"
    assert Invoice.objects.get(pk=invoice.pk).pdf.name == stored.pdf.name
    folder = settings.MEDIA_ROOT / "invoices" / partner.public_id
    assert [path.name for path in folder.iterdir()] == ["BS-2026-000001.pdf"]
    assert (folder / "BS-2026-000001.pdf").read_bytes().startswith(b"%PDF-")


def test_a_draft_has_no_pdf(partner):
    subscription = invoice_for(partner).subscription
    draft = Invoice.objects.create(partner=partner, subscription=subscription, kind=Invoice.Kind.PRORATION,
                                   period_start=APRIL_1ST, period_end=dt.date(2026, 5, 1))

    documents.ensure_invoice_pdf(invoice=draft)

    assert not Invoice.objects.get(pk=draft.pk).pdf
    with pytest.raises(ValueError, match="draft"):
        documents.render_invoice_pdf(invoice=draft)


def test_credit_note_pdf_references_the_invoice_and_is_stored_once(partner, settings):
    invoice = invoice_for(partner)
    note = services.issue_credit_note(invoice=invoice, subtotal_cents=1000, reason=CreditNote.Reason.GOODWILL,
                                      description="Geste commercial", actor=SYSTEM, today=dt.date(2026, 4, 10))

    documents.ensure_credit_note_pdf(credit_note=note)
    documents.ensure_credit_note_pdf(credit_note=CreditNote.objects.get(pk=note.pk))

    note = CreditNote.objects.get(pk=note.pk)
    assert note.pdf.name == f"credit-notes/{partner.public_id}/{note.number}.pdf"
    folder = settings.MEDIA_ROOT / "credit-notes" / partner.public_id
    assert [path.name for path in folder.iterdir()] == [f"{note.number}.pdf"]
    pdf = note.pdf.read()
    text = pdf_text(pdf)
    assert "Avoir" in text and note.number in text
    assert "BS-2026-000001 du 1 avril 2026" in text and "Geste commercial" in text
    assert "10,00 €" in text and "2,00 €" in text and "12,00 €" in text
    assert partner.siren in text and "732829320" in text
    xml = facturx_xml(pdf)
    assert xml_check_xsd(ET.tostring(xml), flavor="factur-x", level="en16931")
    assert xml_value(xml, "rsm:ExchangedDocument/ram:TypeCode") == "381"
    assert xml_value(xml, ".//ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == "BS-2026-000001"
    assert xml_value(xml, ".//ram:GrandTotalAmount") == "12.00"
