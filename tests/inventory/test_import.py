"""The staff bulk import: validate every line first, then apply all or nothing in the background."""

import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from inventory import imports, services
from inventory.models import ImportJob, Product, ProductAvailability, StockLevel, StockMovement
from inventory.selectors import ledger_differences
from inventory.services import LineRequest
from partners.audit import SYSTEM
from tests.factories import UserFactory, WarehouseFactory, make_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def warehouses():
    return WarehouseFactory(code="lyon"), WarehouseFactory(code="lille")


@pytest.fixture
def staff():
    return UserFactory(email="stock@bigstock.example", is_staff=True, is_superuser=True)


def csv_file(text: str, name="stock.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def xlsx_file(rows: list[list], name="stock.xlsx") -> SimpleUploadedFile:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue())


def run(upload, staff, django_capture_on_commit_callbacks, *, mode="count", reason="") -> ImportJob:
    with django_capture_on_commit_callbacks(execute=True):
        job = imports.start_import(file=upload, mode=mode, reason=reason, user=staff, language="en")
    job.refresh_from_db()
    return job


def stock():
    return {(level.product.sku, level.warehouse.code): level.on_hand
            for level in StockLevel.objects.select_related("product", "warehouse")}


def test_a_good_csv_creates_updates_and_counts_and_reports_it(warehouses, staff, django_capture_on_commit_callbacks):
    lyon, _lille = warehouses
    make_product("MUG-1", name_fr="Mug", wholesale_price_cents=500, stock={lyon: 10})
    upload = csv_file(
        "sku;warehouse;quantity;name_fr;wholesale_price;gtin;brand\n"
        "MUG-1;lyon;7;;5,90;;Terre & Grès\n"
        "MUG-1;lille;3;;;;\n"
        "BOL-1;lyon;20;Bol à café;4.20;3760000000017;Terre & Grès\n"
    )

    job = run(upload, staff, django_capture_on_commit_callbacks)

    assert job.status == ImportJob.Status.DONE, job.errors
    assert (job.processed, job.total) == (5, 5)  # 1 created + 1 updated + 3 quantities
    assert job.result["created"] == 1 and job.result["created_skus"] == ["BOL-1"]
    assert job.result["updated_products"] == [{"sku": "MUG-1", "fields": ["brand", "wholesale_price_cents"]}]
    assert job.result["quantity_changes"] == [
        {"sku": "MUG-1", "warehouse": "lyon", "before": 10, "after": 7},
        {"sku": "MUG-1", "warehouse": "lille", "before": 0, "after": 3},
        {"sku": "BOL-1", "warehouse": "lyon", "before": 0, "after": 20},
    ]
    bowl = Product.objects.get(sku="BOL-1")
    assert (bowl.name_fr, bowl.name_en, bowl.wholesale_price_cents, bowl.gtin) == (
        "Bol à café", "Bol à café", 420, "3760000000017")
    assert Product.objects.get(sku="MUG-1").wholesale_price_cents == 590
    assert stock() == {("MUG-1", "lyon"): 7, ("MUG-1", "lille"): 3, ("BOL-1", "lyon"): 20}
    counts = StockMovement.objects.filter(kind="count", reference_type="import", reference_id=job.public_id)
    assert counts.count() == 3
    assert set(counts.values_list("actor_label", flat=True)) == {"stock@bigstock.example (staff)"}
    assert ProductAvailability.objects.get(sku="BOL-1").available == 20
    assert ledger_differences() == []


def test_a_good_xlsx_adjusts_quantities_with_its_reason(warehouses, staff, django_capture_on_commit_callbacks):
    lyon, _lille = warehouses
    make_product("MUG-1", stock={lyon: 10})
    make_product("MUG-2", stock={lyon: 10})
    upload = xlsx_file([["SKU", "Warehouse", "Quantity", "weight_g"],
                        ["MUG-1", "lyon", -3, 420],
                        ["MUG-2", "lyon", 5, None],
                        [None, None, None, None]])

    job = run(upload, staff, django_capture_on_commit_callbacks, mode="adjust", reason="Casse au déballage")

    assert job.status == ImportJob.Status.DONE, job.errors
    assert (job.result["updated"], job.result["quantities"]) == (1, 2)
    assert stock() == {("MUG-1", "lyon"): 7, ("MUG-2", "lyon"): 15}
    assert set(StockMovement.objects.filter(kind="adjustment").values_list("reason", flat=True)) == {
        "Casse au déballage"}
    assert Product.objects.get(sku="MUG-1").weight_g == 420


def test_a_file_with_bad_lines_changes_nothing_and_names_every_line_and_column(
        warehouses, staff, django_capture_on_commit_callbacks):
    lyon, _lille = warehouses
    make_product("MUG-1", wholesale_price_cents=500, stock={lyon: 10})
    movements = StockMovement.objects.count()
    upload = csv_file(
        "sku,warehouse,quantity,name_fr,wholesale_price,gtin\n"
        "MUG-1,lyon,8,,6.00,\n"            # fine on its own
        "MUG-2,lyon,abc,Bol,4.00,\n"       # line 3: quantity
        "MUG-3,paris,1,Tasse,4.00,\n"      # line 4: warehouse
        "MUG-4,,,Assiette,,1234567890123\n"  # line 5: gtin; and no price for a new product
        "MUG-1,lyon,9,,,\n"                # line 6: same level as line 2
    )

    job = run(upload, staff, django_capture_on_commit_callbacks)

    assert job.status == ImportJob.Status.INVALID
    assert [(error["line"], error["column"]) for error in job.errors] == [
        (3, "quantity"), (4, "warehouse"), (5, "gtin"), (5, "wholesale_price"), (6, "quantity")]
    assert "is not a whole number" in job.errors[0]["message"]
    assert "Unknown warehouse “paris”" in job.errors[1]["message"]
    assert "already on line 2" in job.errors[4]["message"]
    assert "Required for a new product" in job.errors[3]["message"]
    assert not Product.objects.filter(sku__in=["MUG-2", "MUG-3", "MUG-4"]).exists()
    assert Product.objects.get(sku="MUG-1").wholesale_price_cents == 500
    assert stock() == {("MUG-1", "lyon"): 10}
    assert StockMovement.objects.count() == movements


def test_unknown_columns_are_named_on_line_one(warehouses, staff, django_capture_on_commit_callbacks):
    job = run(csv_file("sku,qty\nMUG-1,3\n"), staff, django_capture_on_commit_callbacks)
    assert job.status == ImportJob.Status.INVALID
    assert [(error["line"], error["column"]) for error in job.errors] == [(1, "qty")]


def test_counting_below_what_is_reserved_is_an_error_of_its_line(warehouses, staff,
                                                                  django_capture_on_commit_callbacks):
    lyon, _lille = warehouses
    make_product("MUG-1", stock={lyon: 10})
    services.reserve(lines=[LineRequest("MUG-1", 6)], partner=None, actor=SYSTEM, reference=("order", "o"))
    job = run(csv_file("sku,warehouse,quantity\nMUG-1,lyon,4\n"), staff, django_capture_on_commit_callbacks)
    assert job.status == ImportJob.Status.INVALID
    (error,) = job.errors
    assert (error["line"], error["column"]) == (2, "quantity")
    assert "6 are reserved for orders" in error["message"]
    assert stock() == {("MUG-1", "lyon"): 10}


def test_a_refusal_at_apply_time_rolls_back_everything(warehouses, staff, monkeypatch,
                                                       django_capture_on_commit_callbacks):
    """Orders may reserve stock between validation and application: then nothing is applied."""
    lyon, _lille = warehouses
    make_product("MUG-1", stock={lyon: 10})
    validate = imports.validate

    def validate_then_an_order_arrives(*args, **kwargs):
        plan = validate(*args, **kwargs)
        services.reserve(lines=[LineRequest("MUG-1", 8)], partner=None, actor=SYSTEM, reference=("order", "o"))
        return plan

    monkeypatch.setattr(imports, "validate", validate_then_an_order_arrives)
    job = run(csv_file("sku,warehouse,quantity,name_fr,wholesale_price\nNEW-1,lyon,5,Neuf,1\nMUG-1,lyon,2,,\n"),
              staff, django_capture_on_commit_callbacks)

    assert job.status == ImportJob.Status.FAILED
    assert [(error["line"], error["column"]) for error in job.errors] == [(3, "quantity")]
    assert not Product.objects.filter(sku="NEW-1").exists()
    assert stock() == {("MUG-1", "lyon"): 10}


def test_a_finished_job_is_not_run_twice(warehouses, staff, django_capture_on_commit_callbacks):
    lyon, _lille = warehouses
    make_product("MUG-1", stock={lyon: 10})
    job = run(csv_file("sku,warehouse,quantity\nMUG-1,lyon,4\n"), staff, django_capture_on_commit_callbacks,
              mode="adjust", reason="Trouvés")
    imports.run_import(job_id=job.pk)
    assert stock() == {("MUG-1", "lyon"): 14}


def test_a_file_that_is_not_a_workbook_is_refused(warehouses, staff, django_capture_on_commit_callbacks):
    job = run(SimpleUploadedFile("stock.xlsx", b"not a zip"), staff, django_capture_on_commit_callbacks)
    assert job.status == ImportJob.Status.INVALID
    assert "not an XLSX workbook" in job.errors[0]["message"]


def test_many_lines_apply_in_a_few_statements_per_thousand(warehouses, staff, django_assert_max_num_queries,
                                                           django_capture_on_commit_callbacks):
    count = 2500
    lines = "".join(f"SKU-{n:05d},lyon,{n % 7},Produit {n},{n % 50}.90\n" for n in range(count))
    upload = csv_file("sku,warehouse,quantity,name_fr,wholesale_price\n" + lines)
    # Set-based: statements come in batches (1,000 rows on PostgreSQL; SQLite caps a statement at
    # 999 parameters, so about 45 products), never one per line.
    with django_assert_max_num_queries(count // 10):
        job = run(upload, staff, django_capture_on_commit_callbacks)
    assert job.status == ImportJob.Status.DONE, job.errors[:3]
    assert job.result["created"] == 2500
    assert ledger_differences() == []
