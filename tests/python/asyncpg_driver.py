"""asyncpg against a running bucketdb: prepared statements (binary
protocol throughout), its type handling, and typed errors.

Usage: python3 asyncpg_driver.py HOST PORT   (exits non-zero on failure)
"""
import asyncio
import datetime
import sys

import asyncpg

host, port = sys.argv[1], int(sys.argv[2])
ts = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)


async def main():
    c = await asyncpg.connect(host=host, port=port, user="postgres", database="bucketdb")
    await c.execute("INSERT INTO buckets (name) VALUES ('asyncpg')")
    await c.executemany(
        "INSERT INTO objects (bucket, key, size, last_modified) VALUES ($1, $2, $3, $4)",
        [("asyncpg", f"k{i}", i, ts) for i in range(5)],
    )
    st = await c.prepare("SELECT key, size, last_modified FROM objects WHERE bucket = $1 AND size >= $2 ORDER BY key")
    rows = await st.fetch("asyncpg", 3)
    assert [(r["key"], r["size"]) for r in rows] == [("k3", 3), ("k4", 4)], rows
    assert rows[0]["last_modified"] == ts
    # Prepared statements are reused.
    assert len(await st.fetch("asyncpg", 0)) == 5
    try:
        await c.execute("INSERT INTO buckets (name) VALUES ('asyncpg')")
        raise AssertionError("duplicate accepted")
    except asyncpg.exceptions.UniqueViolationError as e:
        assert e.sqlstate == "23505"
    assert await c.fetchval("SELECT count(*) FROM objects WHERE bucket = $1", "asyncpg") == 5
    # A join (planned by DataFusion), prepared, with typed parameters.
    join = await c.prepare(
        "SELECT o.key, o.size, b.region FROM objects o JOIN buckets b ON b.name = o.bucket "
        "WHERE o.bucket = $1 AND o.size > $2 ORDER BY o.size DESC"
    )
    rows = await join.fetch("asyncpg", 2)
    assert [(r["key"], r["size"], r["region"]) for r in rows] == [("k4", 4, "default"), ("k3", 3, "default")], rows
    await c.close()


asyncio.run(main())
print("asyncpg ok")
