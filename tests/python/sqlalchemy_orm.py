"""SQLAlchemy 2 (with psycopg 3) against a running bucketdb: what an ORM
user does first. Reflects the built-in tables (columns with their types
and defaults, the primary key, the foreign key), maps a model onto
`objects` and inserts, selects, updates by the composite key and deletes
through it, outside a transaction and inside one (with a nested savepoint),
and in true autocommit (no BEGIN sent).

Usage: sqlalchemy_orm.py HOST PORT. Prints "sqlalchemy ok" on success.

The password and TLS settings come from libpq's environment (PGPASSWORD,
PGSSLMODE, PGSSLROOTCERT), as `make test` sets them.
"""

import sys
from typing import Optional

from sqlalchemy import JSON, BigInteger, ForeignKey, create_engine, func, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.types import TIMESTAMP, Text

host, port = sys.argv[1], sys.argv[2]
engine = create_engine(f"postgresql+psycopg://postgres@{host}:{port}/bucketdb")


def check(cond, what):
    if not cond:
        raise AssertionError(what)


# Reflection.
insp = inspect(engine)
tables = set(insp.get_table_names())
for t in ["buckets", "objects", "object_versions", "multipart_uploads", "multipart_parts"]:
    check(t in tables, f"table {t} listed: {sorted(tables)}")

cols = {c["name"]: c for c in insp.get_columns("objects")}
check(isinstance(cols["user_metadata"]["type"], JSON), f"json column: {cols['user_metadata']}")
check(isinstance(cols["size"]["type"], BigInteger), f"bigint column: {cols['size']}")
check(isinstance(cols["key"]["type"], Text), f"text column: {cols['key']}")
check(
    isinstance(cols["last_modified"]["type"], TIMESTAMP) and cols["last_modified"]["type"].timezone,
    f"timestamptz column: {cols['last_modified']}",
)
check(cols["size"]["default"] == "0", f"size default: {cols['size']}")
check(cols["storage_class"]["default"] == "'STANDARD'::text", f"default: {cols['storage_class']}")
check(cols["etag"]["default"] is None, f"no default: {cols['etag']}")
check(not cols["key"]["nullable"] and cols["etag"]["nullable"], "nullability")

pk = insp.get_pk_constraint("objects")
check(pk["constrained_columns"] == ["bucket", "key"], f"primary key: {pk}")
check(pk["name"] == "objects_pkey", f"primary key name: {pk}")

fks = insp.get_foreign_keys("objects")
check(len(fks) == 1, f"one foreign key: {fks}")
fk = fks[0]
check(fk["name"] == "objects_bucket_fkey", f"foreign key name: {fk}")
check(fk["constrained_columns"] == ["bucket"], f"foreign key columns: {fk}")
check(fk["referred_table"] == "buckets" and fk["referred_columns"] == ["name"], f"refers: {fk}")
parts_fk = insp.get_foreign_keys("multipart_parts")[0]
check(parts_fk["referred_columns"] == ["bucket", "upload_id"], f"parts foreign key: {parts_fk}")


# A model.
class Base(DeclarativeBase):
    pass


class Bucket(Base):
    __tablename__ = "buckets"
    name: Mapped[str] = mapped_column(Text, primary_key=True)
    region: Mapped[str] = mapped_column(Text, server_default="default")


class Obj(Base):
    __tablename__ = "objects"
    bucket: Mapped[str] = mapped_column(Text, ForeignKey("buckets.name"), primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    etag: Mapped[Optional[str]] = mapped_column(Text)
    user_metadata: Mapped[Optional[dict]] = mapped_column(JSON)


def count(s):
    return s.scalar(select(func.count()).select_from(Obj).where(Obj.bucket == "orm-b"))


with Session(engine) as s:
    # Outside an explicit transaction: each commit is one.
    s.add(Bucket(name="orm-b"))
    s.commit()
    s.add(Obj(bucket="orm-b", key="a", size=3, etag="e1", user_metadata={"k": [1, 2]}))
    s.commit()
    s.expunge_all()
    o = s.get(Obj, ("orm-b", "a"))
    check(o is not None and o.size == 3, "select by key")
    check(o.user_metadata == {"k": [1, 2]}, f"json comes back as an object: {o.user_metadata!r}")
    o.size = 5
    s.commit()
    s.expunge_all()
    check(s.get(Obj, ("orm-b", "a")).size == 5, "update by the composite key")

with Session(engine) as s:
    # Inside a transaction, with a savepoint that fails and is rolled back.
    with s.begin():
        s.add(Obj(bucket="orm-b", key="b", size=1))
        s.flush()
        try:
            with s.begin_nested():
                s.add(Obj(bucket="orm-b", key="a", size=9))
                s.flush()
            raise AssertionError("a duplicate key was accepted")
        except IntegrityError:
            pass
        check(count(s) == 2, "the savepoint rolled back only the duplicate")
    check(s.get(Obj, ("orm-b", "a")).size == 5, "the duplicate changed nothing")

with Session(engine) as s:
    with s.begin():
        s.delete(s.get(Obj, ("orm-b", "b")))
    s.delete(s.get(Obj, ("orm-b", "a")))
    s.commit()
    check(count(s) == 0, "deleted")
    # The foreign key holds: an object in no bucket is refused.
    s.add(Obj(bucket="orm-missing", key="x", size=0))
    try:
        s.commit()
        raise AssertionError("an object without its bucket was accepted")
    except IntegrityError as e:
        check("objects_bucket_fkey" in str(e), f"names the foreign key: {e}")

# True autocommit: the driver sends no BEGIN, so each statement is its own
# transaction; a failed one leaves the ones before it written.
autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
with Session(autocommit) as s:
    s.add(Bucket(name="orm-auto"))
    s.flush()
    s.add(Obj(bucket="orm-auto", key="k", size=7, user_metadata={"a": 1}))
    s.flush()
    s.rollback()  # nothing to undo: both were committed as they ran
    s.expunge_all()
    o = s.get(Obj, ("orm-auto", "k"))
    check(o is not None and o.size == 7, "autocommit insert survives a rollback")
    o.size = 8
    s.flush()
    s.expunge_all()
    s.add(Obj(bucket="orm-auto", key="k", size=9))
    try:
        s.flush()
        raise AssertionError("a duplicate key was accepted")
    except IntegrityError:
        s.rollback()
    s.expunge_all()
    check(s.get(Obj, ("orm-auto", "k")).size == 8, "the update before the failure stays")
    s.delete(s.get(Obj, ("orm-auto", "k")))
    s.flush()
    s.delete(s.get(Bucket, "orm-auto"))
    s.flush()
with engine.connect() as c:
    left = c.exec_driver_sql("SELECT count(*) FROM buckets WHERE name = 'orm-auto'").scalar()
    check(left == 0, f"autocommit deletes are written: {left}")

print("sqlalchemy ok")
