"""Hand-written statements for the hottest paths (the stock feed, order submission, stock changes).

The ORM compiles every query anew: for a statement that runs thousands of times a minute with
the same shape, compiling costs more than PostgreSQL spends running it. Here the shapes are
written once (or built once per model and row count and kept), every value is a parameter, and
on PostgreSQL the statement is prepared once per connection and run with its generic plan.
Everything else goes through the ORM.
"""

import functools
import re
import time

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import (
    AutoField,
    BigAutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    Field,
    ForeignKey,
    IntegerField,
    Model,
    PositiveBigIntegerField,
    PositiveIntegerField,
    PositiveSmallIntegerField,
    SmallIntegerField,
    TextField,
)

_MISSING = object()


def fetch(statement: str, params: list) -> list[tuple]:
    """Rows of ``statement`` (prepared on PostgreSQL: see ``execute``)."""
    return execute(statement, params, fetch=True)


def execute(statement: str, params: list, *, fetch: bool = False) -> list[tuple] | None:
    """Run one of the hot statements. On PostgreSQL with parameters bound by the server, so
    psycopg prepares it once per connection and its plan is reused: planning these statements
    costs more than running them. (Behind PgBouncer, use its transaction mode >= 1.21 with
    ``max_prepared_statements``, or session mode.)"""
    connection = connections[DEFAULT_DB_ALIAS]  # once: each use of django.db.connection looks it up
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall() if fetch else None
    connection.ensure_connection()
    if connection.connection.prepare_threshold is None:
        # Once per connection. Django turns preparing off; its own cursors bind on the client and
        # never prepare anyway, so this only concerns these statements. PostgreSQL would otherwise
        # keep re-planning them (a custom plan per call, for parameters that never change the
        # plan): the generic plan is the one wanted, always.
        connection.connection.prepare_threshold = 5
        connection.connection.execute("SET plan_cache_mode = force_generic_plan")
    started = time.monotonic()
    # Django's wrapper runs the execute wrappers; the query log (which Django's debug wrapper cannot
    # fill for a prepared statement) is written here, so the statement is counted like any other.
    with connection.make_cursor(_prepared_cursor_class()(connection.connection)) as cursor:
        cursor.execute(statement, params)
        rows = cursor.fetchall() if fetch else None
    if connection.queries_logged:
        connection.queries_log.append({"sql": statement, "time": f"{time.monotonic() - started:.3f}"})
    return rows


@functools.cache
def _prepared_cursor_class():
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparedCursor(ServerBindingCursor):
        """Prepares every statement it runs, at once."""

        def execute(self, query, params=None, **kwargs):
            return super().execute(query, params, prepare=True)

    return PreparedCursor


def insert(objs: list[Model]) -> list[Model]:
    """Save new instances of one model in one ``INSERT ... RETURNING`` (PostgreSQL and SQLite
    alike), setting their primary keys: ``bulk_create`` without its query compiler. Field
    defaults and ``auto_now_add`` apply as in ``save``; no signals are sent, as with ``bulk_create``.

    The rows go as ``VALUES``; on PostgreSQL, beyond psycopg's 50 parameters (an order of 7 lines
    or more), as one array per column: psycopg re-parses a statement with more parameters on every
    call, and the array form is the same statement whatever the number of rows."""
    if not objs:
        return objs
    model = type(objs[0])
    fields, pk = _insert_fields(model)
    db = connections[DEFAULT_DB_ALIAS]
    rows = []
    for obj in objs:
        values, row = obj.__dict__, []
        for field, attname, plain in fields:
            value = values.get(attname, _MISSING) if plain is not None else _MISSING
            if type(value) is not plain:  # preparing a value of the column's own type would give it back
                value = field.get_db_prep_save(field.pre_save(obj, add=True), db)
            row.append(value)
        rows.append(row)
    if db.vendor == "postgresql" and len(fields) * len(objs) > PSYCOPG_PARSED_PARAMETERS:
        statement, params = _insert_arrays_sql(model), [list(column) for column in zip(*rows, strict=True)]
    else:
        statement, params = _insert_sql(model, len(objs)), [value for row in rows for value in row]
    for obj, (pk_value,) in zip(objs, fetch(statement, params), strict=True):
        setattr(obj, pk.attname, pk_value)
        obj._state.adding, obj._state.db = False, DEFAULT_DB_ALIAS
    return objs


# psycopg keeps a statement's parsed form (``%s`` made ``$n``) only up to this many parameters.
PSYCOPG_PARSED_PARAMETERS = 50


@functools.cache
def _insert_fields(model) -> tuple[list[tuple[Field, str, type | None]], Field]:
    """The inserted fields, each with its attribute and the Python type its column takes as is
    (None: always prepared by the field)."""
    pk = model._meta.pk
    fields = [field for field in model._meta.concrete_fields if not (field is pk and isinstance(field, AutoField))]
    return [(field, field.attname, _plain_type(field)) for field in fields], pk


def _plain_type(field: Field) -> type | None:
    """``int``, ``str`` or ``bool`` when the field stores a value of that type unchanged (no
    ``pre_save`` of its own, no conversion on the way to the database), else None."""
    target = field.target_field if isinstance(field, ForeignKey) else field
    if type(field).pre_save is not Field.pre_save or type(target).pre_save is not Field.pre_save:
        return None
    for types, plain in ((_PLAIN_INTEGERS, int), (_PLAIN_TEXTS, str), (_PLAIN_BOOLEANS, bool)):
        if type(target) in types:
            return plain
    return None


_PLAIN_INTEGERS = (AutoField, BigAutoField, IntegerField, BigIntegerField, PositiveIntegerField,
                   PositiveBigIntegerField, PositiveSmallIntegerField, SmallIntegerField)
_PLAIN_TEXTS = (CharField, TextField)
_PLAIN_BOOLEANS = (BooleanField,)


@functools.cache
def _insert_sql(model, count: int) -> str:
    fields, _pk = _insert_fields(model)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    return _insert_statement(model, f"VALUES {', '.join([row] * count)}")


@functools.cache
def _insert_arrays_sql(model) -> str:
    """``insert``'s statement with one array parameter per column (``unnest``). The arrays are cast
    to the columns' types without their length or precision: an explicit ``varchar(n)`` cast would
    cut a longer value that the INSERT itself refuses."""
    fields, _pk = _insert_fields(model)
    arrays = ", ".join(f"%s::{re.sub(r'[(].*[)]', '', field.db_type(connection))}[]" for field, _a, _p in fields)
    return _insert_statement(model, f"SELECT * FROM unnest({arrays})")  # noqa: S608 (types from the model)


def _insert_statement(model, rows: str) -> str:
    quote = connection.ops.quote_name
    fields, pk = _insert_fields(model)
    return (f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f, _a, _p in fields)}) "
            f"{rows} RETURNING {quote(pk.column)}")
