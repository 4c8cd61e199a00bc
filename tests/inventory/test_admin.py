"""Staff screens: quantities move only through the ledger, with a reason."""

import datetime as dt
import io

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from inventory import receiving, reorder
from inventory.models import ImportJob, Product, ProductAvailability, Receipt, StockLevel, StockMovement
from orders.models import Order
from partners.audit import SYSTEM
from tests.factories import PartnerFactory, UserFactory, WarehouseFactory, make_product, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = UserFactory(email="stock@bigstock.example", is_staff=True, is_superuser=True)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.force_login(user)
    return user


@pytest.fixture
def lyon():
    return WarehouseFactory(code="lyon", name="Entrepôt de Lyon")


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def level_of(product, warehouse) -> StockLevel:
    return StockLevel.objects.get(product=product, warehouse=warehouse)


# --- Products, levels, movements -------------------------------------------------------------------


@pytest.mark.parametrize("search", ["MUG-1", "3760000000017", "grès"])
def test_products_are_found_by_sku_gtin_or_name(client, staff, search):
    make_product("MUG-1", name_fr="Mug en grès", gtin="3760000000017")
    make_product("BOL-1", name_fr="Bol")
    response = client.get(reverse("admin:inventory_product_changelist"), {"q": search})
    assert [p.sku for p in response.context["cl"].result_list] == ["MUG-1"]


def test_a_product_added_in_the_admin_gets_its_feed_row(client, staff):
    response = client.post(reverse("admin:inventory_product_add"), {
        "sku": "NEW-1", "gtin": "", "is_active": "on", "name_fr": "Nouveau", "name_en": "New",
        "wholesale_price_cents": "990", "retail_price_cents": "1990", "vat_class": "standard", "weight_g": "100",
        "length_mm": "0", "width_mm": "0", "height_mm": "0",
        "levels-TOTAL_FORMS": "0", "levels-INITIAL_FORMS": "0"}, follow=True)
    assert response.status_code == 200, response.context["adminform"].form.errors
    assert ProductAvailability.objects.filter(sku="NEW-1", product__name_fr="Nouveau").exists()


def test_an_adjustment_with_its_reason_writes_a_movement(client, staff, lyon):
    mug = make_product("MUG-1", stock={lyon: 10})
    url = reverse("admin:inventory_product_stock", args=[mug.pk])
    response = client.post(url, {"warehouse": lyon.pk, "operation": "adjust", "quantity": "-3",
                                 "reason": "Cassé à la manutention"}, follow=True)
    assert "MUG-1 in Entrepôt de Lyon: 7 on hand, 7 available." in messages_of(response)
    movement = StockMovement.objects.latest("id")
    assert (movement.kind, movement.on_hand_delta, movement.reason, movement.actor_label) == (
        "adjustment", -3, "Cassé à la manutention", "stock@bigstock.example (staff)")


def test_a_stocktake_sets_the_counted_quantity(client, staff, lyon):
    mug = make_product("MUG-1", stock={lyon: 10})
    client.post(reverse("admin:inventory_product_stock", args=[mug.pk]),
                {"warehouse": lyon.pk, "operation": "count", "quantity": "12", "reason": "Inventaire"})
    assert level_of(mug, lyon).on_hand == 12
    assert StockMovement.objects.latest("id").kind == "count"


def test_an_operation_needs_a_reason_and_removing_too_much_is_refused_on_the_form(client, staff, lyon):
    mug = make_product("MUG-1", stock={lyon: 2})
    url = reverse("admin:inventory_product_stock", args=[mug.pk])
    response = client.post(url, {"warehouse": lyon.pk, "operation": "adjust", "quantity": "-3", "reason": ""})
    assert response.context["form"].errors["reason"]
    response = client.post(url, {"warehouse": lyon.pk, "operation": "adjust", "quantity": "-3", "reason": "Perte"})
    assert "At most 2 can be removed." in response.context["form"].errors["quantity"]
    assert StockMovement.objects.count() == 1


def test_stock_operations_need_the_permission(client, lyon):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_product"))
    client.force_login(user)
    mug = make_product("MUG-1", stock={lyon: 2})
    response = client.post(reverse("admin:inventory_product_stock", args=[mug.pk]),
                           {"warehouse": lyon.pk, "operation": "adjust", "quantity": "5", "reason": "x"})
    assert response.status_code == 403


def test_level_numbers_are_read_only_and_only_the_reorder_settings_change(client, staff, lyon):
    mug = make_product("MUG-1", stock={lyon: 10})
    level = level_of(mug, lyon)
    url = reverse("admin:inventory_stocklevel_change", args=[level.pk])
    client.post(url, {"on_hand": "999", "reserved": "5", "reorder_point": "4", "reorder_target": "20"})
    level.refresh_from_db()
    assert (level.on_hand, level.reserved, level.reorder_point, level.reorder_target) == (10, 0, 4, 20)
    assert client.get(reverse("admin:inventory_stocklevel_add")).status_code == 403
    response = client.post(url, {"reorder_point": "30", "reorder_target": "20"})
    assert response.context["adminform"].form.errors["reorder_target"]


def test_movements_are_read_only_and_filterable(client, staff, lyon):
    lille = WarehouseFactory(code="lille")
    mug = make_product("MUG-1", stock={lyon: 10, lille: 4})
    movement = StockMovement.objects.filter(level__warehouse=lille).get()
    changelist = reverse("admin:inventory_stockmovement_changelist")
    response = client.get(changelist, {"level__warehouse__id__exact": lille.pk, "kind__exact": "receipt"})
    assert list(response.context["cl"].result_list) == [movement]
    today = timezone.localdate()
    response = client.get(changelist, {"created_at__year": today.year, "created_at__month": today.month,
                                       "created_at__day": today.day})
    assert len(response.context["cl"].result_list) == 2
    response = client.get(changelist, {"created_at__year": today.year - 1})
    assert len(response.context["cl"].result_list) == 0
    assert client.get(reverse("admin:inventory_stockmovement_add")).status_code == 403
    change = reverse("admin:inventory_stockmovement_change", args=[movement.pk])
    client.post(change, {"reason": "rewritten"})
    assert client.post(reverse("admin:inventory_stockmovement_delete", args=[movement.pk]),
                       {"post": "yes"}).status_code == 403
    assert StockMovement.objects.get(pk=movement.pk).reason == ""
    assert mug.levels.count() == 2


def test_a_movement_names_what_caused_it_in_the_readers_language_with_a_link_to_it(client, staff, lyon):
    make_product("MUG-1", stock={lyon: 10})
    order = submit(PartnerFactory(), ("MUG-1", 2))
    reservation = StockMovement.objects.get(reference_type="order")
    assert reservation.reference_id == order.public_id
    html = client.get(reverse("admin:inventory_stockmovement_changelist"), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    link = f'<a href="{reverse("admin:orders_order_changelist")}?q={order.public_id}">commande {order.public_id}</a>'
    assert link in html
    page = client.get(reverse("admin:inventory_stockmovement_change", args=[reservation.pk]), HTTP_ACCEPT_LANGUAGE="fr")
    assert link in page.content.decode()
    found = client.get(reverse("admin:orders_order_changelist"), {"q": order.public_id}).context["cl"].result_list
    assert list(found) == [Order.objects.get(pk=order.pk)]


# --- Receipts -------------------------------------------------------------------------------------


def expected(warehouse, *lines) -> Receipt:
    return receiving.create_receipt(supplier="Terre & Grès", reference="CMD-7", warehouse=warehouse,
                                    expected_on=dt.date(2026, 10, 1), actor=SYSTEM,
                                    lines=[receiving.LineIn(product, quantity) for product, quantity in lines])


def test_receiving_part_of_a_receipt_through_the_form(client, staff, lyon):
    mug, bowl = make_product("MUG-1"), make_product("BOL-1")
    receipt = expected(lyon, (mug, 10), (bowl, 6))
    mug_line, bowl_line = receipt.lines.get(product=mug), receipt.lines.get(product=bowl)
    url = reverse("admin:inventory_receipt_receive", args=[receipt.pk])
    form = client.get(url).context["form"]
    assert (form[f"line_{mug_line.pk}"].initial, form[f"line_{bowl_line.pk}"].initial) == (10, 6)

    response = client.post(url, {f"line_{mug_line.pk}": "10", f"line_{bowl_line.pk}": "2"}, follow=True)

    assert "Received into Entrepôt de Lyon: the receipt is now partly received." in messages_of(response)
    assert (level_of(mug, lyon).on_hand, level_of(bowl, lyon).on_hand) == (10, 2)
    assert set(StockMovement.objects.values_list("reference_id", flat=True)) == {receipt.public_id}
    response = client.post(url, {f"line_{bowl_line.pk}": "5"})
    assert response.context["form"].errors[f"line_{bowl_line.pk}"]  # only 4 outstanding


def test_receive_everything_action_and_cancel_action(client, staff, lyon):
    mug = make_product("MUG-1")
    first, second = expected(lyon, (mug, 10)), expected(lyon, (mug, 5))
    changelist = reverse("admin:inventory_receipt_changelist")
    client.post(changelist, {"action": "receive_everything", "_selected_action": [first.pk]})
    client.post(changelist, {"action": "cancel", "_selected_action": [second.pk]})
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("received", "cancelled")
    assert level_of(mug, lyon).on_hand == 10


def test_a_receipt_is_entered_with_its_lines(client, staff, lyon):
    mug = make_product("MUG-1")
    response = client.post(reverse("admin:inventory_receipt_add"), {
        "supplier": "Terre & Grès", "reference": "CMD-9", "warehouse": lyon.pk, "expected_on": "2026-10-05",
        "lines-TOTAL_FORMS": "1", "lines-INITIAL_FORMS": "0", "lines-0-product": mug.pk,
        "lines-0-quantity_expected": "24"}, follow=True)
    assert response.status_code == 200
    receipt = Receipt.objects.get(reference="CMD-9")
    assert (receipt.status, receipt.lines.get().quantity_expected) == ("expected", 24)
    assert receiving.incoming_dates([mug.pk]) == {mug.pk: dt.date(2026, 10, 5)}


# --- Reorder list and imports --------------------------------------------------------------------------


def test_the_reorder_list_shows_suggestions(client, staff, lyon):
    mug = make_product("MUG-1", stock={lyon: 4})
    reorder.set_reorder_levels(level=level_of(mug, lyon), reorder_point=10, reorder_target=30)
    response = client.get(reverse("admin:inventory_reorder"))
    assert [(line.product.sku, line.suggested) for line in response.context["lines"]] == [("MUG-1", 26)]
    assert reverse("admin:inventory_reorder") in client.get(
        reverse("admin:inventory_stocklevel_changelist")).content.decode()


def test_an_import_is_uploaded_then_followed_on_its_page(client, staff, lyon, django_capture_on_commit_callbacks):
    make_product("MUG-1", stock={lyon: 10})
    upload = SimpleUploadedFile("stock.csv", b"sku,warehouse,quantity\nMUG-1,lyon,15\n")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:inventory_importjob_add"),
                               {"file": upload, "mode": "count", "reason": ""})
    job = ImportJob.objects.get()
    assert response.url == reverse("admin:inventory_importjob_change", args=[job.pk])
    page = client.get(response.url)
    assert page.context["job"].status == "done"
    assert "quantities changed" in page.content.decode()
    fragment = client.get(reverse("admin:inventory_importjob_progress", args=[job.pk])).content.decode()
    assert "hx-trigger" not in fragment  # finished: the page stops polling
    assert level_of(Product.objects.get(sku="MUG-1"), lyon).on_hand == 15


def test_a_running_import_page_polls_its_progress(client, staff):
    job = ImportJob.objects.create(filename="big.csv", file="inventory/imports/big.csv", status="validating",
                                   total=50_000, processed=12_500, created_by=staff)
    fragment = client.get(reverse("admin:inventory_importjob_progress", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in fragment
    assert 'value="12500" max="50000"' in fragment and "(25 %)" in fragment


def test_a_refused_import_lists_its_errors_and_offers_them_as_csv(client, staff, lyon,
                                                                 django_capture_on_commit_callbacks):
    upload = SimpleUploadedFile("stock.csv", b"sku,warehouse,quantity\nMUG-1,paris,x\n")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:inventory_importjob_add"), {"file": upload, "mode": "count"})
    job = ImportJob.objects.get()
    body = client.get(reverse("admin:inventory_importjob_change", args=[job.pk])).content.decode()
    assert "Nothing was changed: 3 errors." in body  # the quantity, and a new product's name and price
    errors = client.get(reverse("admin:inventory_importjob_errors", args=[job.pk]))
    assert errors.content.decode().splitlines()[1].startswith("2,quantity,")


def test_adjustments_need_a_reason_and_only_csv_or_xlsx_are_taken(client, staff):
    response = client.post(reverse("admin:inventory_importjob_add"), {
        "file": SimpleUploadedFile("stock.csv", b"sku\n"), "mode": "adjust", "reason": ""})
    assert response.context["form"].errors["reason"]
    response = client.post(reverse("admin:inventory_importjob_add"), {
        "file": SimpleUploadedFile("stock.pdf", io.BytesIO(b"%PDF").read()), "mode": "count"})
    assert response.context["form"].errors["file"]
    assert not ImportJob.objects.exists()


def test_the_example_file_names_every_column(client, staff):
    response = client.get(reverse("admin:inventory_importjob_template"))
    header = response.content.decode().splitlines()[0]
    assert header.startswith("sku,warehouse,quantity,gtin,name_fr")
