"""Orders from a CSV file: every error by line and column (nothing sent), else submitted in the
background with progress, and the orders created and the failures listed."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from orders import imports
from orders.models import Order, OrderImport
from partners.audit import Actor
from partners.models import Role
from tests.factories import MembershipFactory, WarehouseFactory, make_product, submit

pytestmark = pytest.mark.django_db

HEADER = "reference,sku,quantity,name,company,line1,line2,postcode,city,country,phone,email,notes\n"
GOOD = HEADER + (
    "CMD-1,TEA-1,2,Jeanne Martin,,5 rue des Lilas,,69003,Lyon,FR,+33612345678,jeanne@example.com,Ring twice\n"
    "CMD-1,CUP-1,1,,,,,,,,,,\n"
    "CMD-2,TEA-1,1,Paul Durand,Durand SARL,12 quai Saint-Antoine,,69002,Lyon,FR,+33478123456,,\n"
)


@pytest.fixture
def owner():
    return MembershipFactory(role=Role.OWNER)


@pytest.fixture
def browser(owner) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(owner.user)
    return client


@pytest.fixture
def stock():
    lyon = WarehouseFactory(code="lyon")
    make_product("TEA-1", stock={lyon: 10}, wholesale_price_cents=450)
    make_product("CUP-1", stock={lyon: 5}, wholesale_price_cents=1200)
    return lyon


def upload(browser, text: str, *, name="orders.csv", encoding="utf-8"):
    return browser.post("/orders/import/", {"file": SimpleUploadedFile(name, text.encode(encoding), "text/csv")})


def errors_of(response) -> set[tuple[int, str]]:
    assert response.status_code == 400
    return {(error.line, error.column) for error in response.context["errors"]}


def test_every_error_is_listed_by_line_and_column_and_nothing_is_sent(browser, owner, stock):
    submit(owner.partner, ("TEA-1", 1), reference="USED-1")
    text = HEADER + (
        "CMD-1,TEA-1,two,Jeanne Martin,,5 rue des Lilas,,69003,Lyon,FR,+33612345678,not-an-email,\n"
        "CMD-1,NOPE-9,1,,,,,,,,,,\n"
        "CMD-1,CUP-1,1,Someone Else,,,,,,,,,\n"
        "CMD-2,TEA-1,0,,,1 rue Neuve,,75001,Paris,XX,,,\n"
        ",TEA-1,1,,,,,,,,,,\n"
        "USED-1,TEA-1,1,Paul,,1 rue Neuve,,75001,Paris,FR,,,\n"
    )
    response = upload(browser, text)
    assert errors_of(response) == {
        (2, "quantity"), (2, "email"), (3, "sku"), (4, "name"), (5, "quantity"), (5, "name"), (5, "country"),
        (6, "reference"), (7, "reference"),
    }
    page = response.content.decode()
    assert "nothing was sent" in page and "Differs from line 2" in page and "You already sent this reference" in page
    assert not OrderImport.objects.exists() and Order.objects.count() == 1


def test_a_file_with_wrong_columns_is_refused_at_once(browser, stock):
    assert errors_of(upload(browser, "ref,sku,qty\nCMD-1,TEA-1,1\n")) >= {(1, "ref"), (1, "reference"),
                                                                          (1, "quantity")}
    assert errors_of(upload(browser, HEADER)) == {(2, "reference")}


def test_a_good_file_is_submitted_in_the_background_with_its_progress(browser, owner, stock,
                                                                      django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = upload(browser, GOOD)
    job = OrderImport.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/orders/import/{job.public_id}/"
    assert (job.partner, job.total, job.processed, job.status) == (owner.partner, 2, 0, "queued")
    assert not Order.objects.exists()  # nothing until the task runs

    waiting = browser.get(response["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' in waiting and "0 of 2 orders sent" in waiting

    for callback in queued:  # the task (eager in tests)
        callback()
    job.refresh_from_db()
    assert (job.status, job.processed, job.failures) == ("done", 2, [])
    orders = {order.reference: order for order in Order.objects.all()}
    assert {(line.sku, line.quantity) for line in orders["CMD-1"].lines.all()} == {("TEA-1", 2), ("CUP-1", 1)}
    assert orders["CMD-1"].notes == "Ring twice" and orders["CMD-1"].source == "csv"
    assert orders["CMD-2"].ship_to_company == "Durand SARL"
    assert orders["CMD-1"].created_by_label == owner.user.email

    done = browser.get(response["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in done and "2 of 2 orders sent" in done
    assert f"/orders/{orders['CMD-1'].public_id}/" in done
    assert "<html" in browser.get(response["Location"]).content.decode()  # the full page without htmx


def test_an_order_short_of_stock_at_submission_is_listed_by_line(browser, owner, stock,
                                                                django_capture_on_commit_callbacks):
    text = HEADER + (
        "CMD-1,TEA-1,2,Jeanne Martin,,5 rue des Lilas,,69003,Lyon,FR,+33612345678,,\n"
        "CMD-1,CUP-1,9,,,,,,,,,,\n"
        "CMD-2,TEA-1,1,Paul Durand,,12 quai Saint-Antoine,,69002,Lyon,FR,+33478123456,,\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(browser, text)
    job = OrderImport.objects.get()
    assert job.created == [{"reference": "CMD-2", "id": Order.objects.get().public_id, "lines": [4]}]
    assert job.failures == [{"reference": "CMD-1", "lines": [3], "sku": "CUP-1",
                             "message": "Not enough stock: 9 requested, 5 available."}]
    page = browser.get(response["Location"]).content.decode()
    assert "1 failure" in page and "Not enough stock: 9 requested, 5 available." in page


def test_semicolons_and_a_windows_spreadsheet_are_read(browser, stock, django_capture_on_commit_callbacks):
    text = GOOD.replace(",", ";").replace("Jeanne Martin", "Jérôme Lefèvre")
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(browser, text, encoding="cp1252")
    assert response.status_code == 302
    assert Order.objects.get(reference="CMD-1").ship_to_name == "Jérôme Lefèvre"


def test_a_task_delivered_twice_submits_each_order_once(owner, stock, django_capture_on_commit_callbacks):
    class Upload:
        size = len(GOOD)

        def read(self):
            return GOOD.encode()

    orders = imports.read_orders(partner=owner.partner, upload=Upload())
    with django_capture_on_commit_callbacks(execute=False):
        job = imports.start_import(partner=owner.partner, user=owner.user, filename="orders.csv", orders=orders,
                                   language="en")
    actor = Actor(user=owner.user)
    imports._submit_one(job.pk, 0, partner=owner.partner, actor=actor)  # a worker died after the first order
    imports._submit_one(job.pk, 0, partner=owner.partner, actor=actor)  # a late copy of that step: no effect
    imports.run_import(import_id=job.pk)  # the task delivered again
    imports.run_import(import_id=job.pk)  # and once more, after it finished
    job.refresh_from_db()
    assert job.status == "done" and job.processed == 2
    assert Order.objects.count() == 2 and len(job.created) == 2 and job.failures == []


def test_another_partners_import_is_not_found(browser, stock):
    other = MembershipFactory()
    job = OrderImport.objects.create(partner=other.partner, filename="theirs.csv", total=0)
    assert browser.get(f"/orders/import/{job.public_id}/").status_code == 404


def test_the_sample_file_is_a_valid_import(browser, owner):
    WarehouseFactory(code="lyon")
    make_product("SKU-A", stock={WarehouseFactory(code="lyon"): 5})
    make_product("SKU-B", stock={WarehouseFactory(code="lyon"): 5})
    sample = browser.get("/orders/import/sample.csv").content.decode()
    assert upload(browser, sample).status_code == 302
