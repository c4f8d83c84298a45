"""Moving frames in and out of PostgreSQL with COPY, through a SQLAlchemy connection's psycopg
connection (so it shares the caller's transaction)."""

from __future__ import annotations

import io
from typing import Any, cast

import polars as pl
import psycopg
from psycopg import sql
from sqlalchemy import Connection

Schema = dict[str, pl.DataType | type[pl.DataType]]


def driver(conn: Connection) -> psycopg.Connection[Any]:
    return cast("psycopg.Connection[Any]", conn.connection.driver_connection)


def read_frame(
    conn: Connection, query: str, params: dict[str, Any], schema: Schema
) -> pl.DataFrame:
    """The rows of ``query`` (whose columns are ``schema``'s, in order) as a frame."""
    buffer = io.BytesIO()
    with driver(conn).cursor() as cursor:
        statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv)").format(
            sql.SQL(query).format(**{k: sql.Literal(v) for k, v in params.items()})
        )
        with cursor.copy(statement) as copy:
            for block in copy:
                buffer.write(block)
    if buffer.tell() == 0:
        return pl.DataFrame(schema=schema)
    buffer.seek(0)
    return pl.read_csv(buffer, has_header=False, new_columns=list(schema), schema=schema)


def write_frame(conn: Connection, table: str, frame: pl.DataFrame) -> None:
    """Append ``frame``'s rows to ``table`` (a temporary table, usually), columns by name."""
    if frame.is_empty():
        return
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in frame.columns)
    )
    payload = frame.write_csv(include_header=False, null_value="").encode()
    with driver(conn).cursor() as cursor, cursor.copy(statement) as copy:
        copy.write(payload)
