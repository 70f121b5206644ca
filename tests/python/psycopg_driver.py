"""psycopg 3 against a running bucketdb: simple and extended protocol,
text and binary parameters and results, typed errors.

Usage: python3 psycopg_driver.py HOST PORT   (exits non-zero on failure)
"""
import datetime
import sys

import psycopg
from psycopg import errors

host, port = sys.argv[1], sys.argv[2]
ts = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)

with psycopg.connect(f"host={host} port={port} user=postgres dbname=bucketdb", autocommit=True) as conn:
    # Extended protocol, text parameters.
    conn.execute("INSERT INTO buckets (name, owner) VALUES (%s, %s)", ("py-bucket", "py"))
    conn.execute(
        "INSERT INTO objects (bucket, key, size, last_modified, user_metadata) VALUES (%s, %s, %s, %s, %s)",
        ("py-bucket", "a.txt", 5, ts, '{"k": "v"}'),
    )
    # Binary parameters.
    conn.execute("INSERT INTO objects (bucket, key, size) VALUES (%b, %b, %b)", ("py-bucket", "b.txt", 7))
    rows = conn.execute(
        "SELECT key, size, last_modified FROM objects WHERE bucket = %s ORDER BY key", ("py-bucket",)
    ).fetchall()
    assert [r[:2] for r in rows] == [("a.txt", 5), ("b.txt", 7)], rows
    # Lists as parameters: psycopg sends a list of strings untyped and a
    # list of ints as int2[]; `= ANY` takes both, in reads and writes.
    keys = conn.execute(
        "SELECT key FROM objects WHERE bucket = %s AND key = ANY(%s) ORDER BY key", ("py-bucket", ["b.txt", "zz"])
    ).fetchall()
    assert keys == [("b.txt",)], keys
    n = conn.execute("SELECT count(*) FROM objects WHERE size = ANY(%s)", ([5, 7],)).fetchone()[0]
    assert n == 2, n
    joined = conn.execute(
        "SELECT o.key FROM objects o JOIN buckets b ON b.name = o.bucket WHERE o.key = ANY(%s)", (["a.txt"],)
    ).fetchall()
    assert joined == [("a.txt",)], joined
    cur = conn.execute("UPDATE objects SET etag = 'e' WHERE bucket = %s AND key = ANY(%s)", ("py-bucket", ["a.txt", "b.txt"]))
    assert cur.rowcount == 2, cur.rowcount
    assert rows[0][2] == ts, rows[0][2]
    # Binary results.
    with conn.cursor(binary=True) as cur:
        cur.execute("SELECT key, size FROM objects WHERE bucket = %s AND size > %s", ("py-bucket", 6))
        assert cur.fetchall() == [("b.txt", 7)]
    # A window function over a join (DataFusion), with a binary parameter.
    with conn.cursor(binary=True) as cur:
        cur.execute(
            "SELECT o.key, rank() OVER (ORDER BY o.size DESC) AS r FROM objects o "
            "JOIN buckets b ON b.name = o.bucket WHERE b.owner = %s ORDER BY r",
            ("py",),
        )
        assert cur.fetchall() == [("b.txt", 1), ("a.txt", 2)]
    # Date and time types come back as Python's: a timestamp without time
    # zone naive, a timestamptz aware, an interval a timedelta, in text
    # and in binary results (a timestamp was once described as timestamptz,
    # an interval as text).
    naive = datetime.datetime(2024, 1, 2, 3, 4, 5, 500000)
    for binary in (False, True):
        with conn.cursor(binary=binary) as cur:
            cur.execute(
                "SELECT %s::timestamp, last_modified::timestamp, last_modified, "
                "last_modified - '2024-01-01'::timestamptz, interval '1 year 2 months 3 days 4.5 seconds', "
                "now() - last_modified > interval '1 day' "
                "FROM objects o JOIN buckets b ON b.name = o.bucket WHERE o.key = %s",
                (naive, "a.txt"),
            )
            row = cur.fetchone()
            want = (
                naive,
                ts.replace(tzinfo=None),
                ts,
                datetime.timedelta(days=1, hours=3, minutes=4, seconds=5),
                datetime.timedelta(days=365 + 60 + 3, seconds=4.5),
                True,
            )
            assert row == want, (binary, row)
    # jsonb is described as jsonb (OID 3802) and comes back as an object
    # in text and binary results, by either planner; a Jsonb parameter is
    # sent as binary jsonb (a version byte and the text).
    from psycopg.types.json import Jsonb

    for binary in (False, True):
        with conn.cursor(binary=binary) as cur:
            for sql in (
                "SELECT %s::jsonb, user_metadata::jsonb FROM objects WHERE bucket = 'py-bucket' AND key = 'a.txt'",
                "SELECT %s::jsonb, o.user_metadata::jsonb FROM objects o JOIN buckets b ON b.name = o.bucket "
                "WHERE o.key = 'a.txt'",
            ):
                cur.execute(sql, (Jsonb({"b": [1, 2], "a": None}),))
                assert [d.type_code for d in cur.description] == [3802, 3802], (binary, sql, cur.description)
                row = cur.fetchone()
                assert row == ({"a": None, "b": [1, 2]}, {"k": "v"}), (binary, sql, row)
    # Catalog column numbers are int2 (21) and int2[] (1005), in text and
    # in binary results.
    for binary in (False, True):
        with conn.cursor(binary=binary) as cur:
            cur.execute(
                "SELECT c.conkey, a.attnum FROM pg_constraint c JOIN pg_attribute a "
                "ON a.attrelid = c.conrelid AND a.attnum = c.conkey[2] WHERE c.conname = 'objects_pkey'"
            )
            assert [d.type_code for d in cur.description] == [1005, 21], (binary, cur.description)
            assert cur.fetchone() == ([1, 2], 2), binary
    text = conn.execute("SELECT %s::jsonb::text", (Jsonb({"b": 1, "a": 2}),)).fetchone()[0]
    assert text == '{"a": 2, "b": 1}', text
    # Simple protocol, several statements.
    with conn.cursor() as cur:
        cur.execute("UPDATE objects SET size = size + 1 WHERE bucket = 'py-bucket'; SELECT 1")
    # Typed errors map to psycopg's exception classes, and the session goes on.
    try:
        conn.execute("INSERT INTO buckets (name) VALUES (%s)", ("py-bucket",))
        raise AssertionError("duplicate accepted")
    except errors.UniqueViolation as e:
        assert e.sqlstate == "23505"
    try:
        conn.execute("INSERT INTO objects (bucket, key) VALUES (%s, %s)", ("missing", "k"))
        raise AssertionError("orphan accepted")
    except errors.ForeignKeyViolation:
        pass
    try:
        conn.execute("SELEC 1")
        raise AssertionError("bad syntax accepted")
    except errors.SyntaxError:
        pass
    total = conn.execute("SELECT sum(size) FROM objects WHERE bucket = %s", ("py-bucket",)).fetchone()[0]
    assert total == 14, total

    # The status each ReadyForQuery reports, as PostgreSQL's: an error
    # outside a transaction leaves the connection idle; one inside fails
    # the transaction, whatever refused the statement (the engine or the
    # protocol layer); a COMMIT that fails with 40001 ends the transaction,
    # so the connection is idle again.
    IDLE, INTRANS, INERROR = (psycopg.pq.TransactionStatus.IDLE, psycopg.pq.TransactionStatus.INTRANS,
                              psycopg.pq.TransactionStatus.INERROR)
    assert conn.info.transaction_status == IDLE
    conn.execute("BEGIN")
    assert conn.info.transaction_status == INTRANS
    try:
        conn.execute("SELECT key FROM objects WHERE size = %s", ("not a number",))
        raise AssertionError("a text parameter for a bigint was accepted")
    except psycopg.Error:
        pass
    assert conn.info.transaction_status == INERROR, conn.info.transaction_status
    try:
        conn.execute("SELECT 1")
        raise AssertionError("a failed transaction ran a statement")
    except errors.InFailedSqlTransaction:
        pass
    conn.execute("ROLLBACK")
    assert conn.info.transaction_status == IDLE
    with psycopg.connect(f"host={host} port={port} user=postgres dbname=bucketdb", autocommit=True) as other:
        conn.execute("BEGIN")
        conn.execute("SELECT size FROM objects WHERE bucket = %s AND key = %s", ("py-bucket", "a.txt"))
        other.execute("UPDATE objects SET size = 100 WHERE bucket = %s AND key = %s", ("py-bucket", "a.txt"))
        conn.execute("UPDATE objects SET size = size + 10 WHERE bucket = %s AND key = %s", ("py-bucket", "a.txt"))
        try:
            conn.execute("COMMIT")
            raise AssertionError("a commit over a changed read succeeded")
        except errors.SerializationFailure:
            pass
        assert conn.info.transaction_status == IDLE, conn.info.transaction_status
    size = conn.execute("SELECT size FROM objects WHERE bucket = %s AND key = %s", ("py-bucket", "a.txt")).fetchone()[0]
    assert size == 100, size
    # The composite key as a row value, with parameters (ORMs write it so).
    cur = conn.execute("UPDATE objects SET etag = 'rv' WHERE (bucket, key) = (%s, %s)", ("py-bucket", "a.txt"))
    assert cur.rowcount == 1, cur.rowcount
    etag = conn.execute("SELECT etag FROM objects WHERE (bucket, key) = (%s, %s)", ("py-bucket", "a.txt")).fetchone()
    assert etag == ("rv",), etag
print("psycopg ok")
