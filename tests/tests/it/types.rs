//! What a statement tells a driver about types: JSON columns are `json`
//! in RowDescription and ParameterDescription, on both planners; a cast
//! parameter is described as the cast's type; a statement returning no
//! rows describes no columns; a select list may repeat a name.

use bucketdb_tests::{sqlstate, Server};
use serde_json::json;
use tokio_postgres::types::Type;

#[tokio::test]
async fn json_columns_are_described_as_json() {
    let server = Server::start();
    let c = server.connect().await;
    c.execute(
        "INSERT INTO buckets (name, tags) VALUES ('typed', $1)",
        &[&json!({"env": "test"})],
    )
    .await
    .unwrap();
    let insert = c
        .prepare("INSERT INTO objects (bucket, key, user_metadata, tags) VALUES ($1, $2, $3, $4)")
        .await
        .unwrap();
    assert_eq!(
        insert.params(),
        &[Type::TEXT, Type::TEXT, Type::JSON, Type::JSON]
    );
    assert!(insert.columns().is_empty());
    let meta = json!({"owner": "ana", "n": [1, 2]});
    let n = c
        .execute(&insert, &[&"typed", &"a", &meta, &json!(["x"])])
        .await
        .unwrap();
    assert_eq!(n, 1);

    // The fast planner (a point read) and DataFusion (a join) agree.
    for sql in [
        "SELECT user_metadata, tags, user_metadata->'n' AS n, user_metadata->>'owner' AS owner \
         FROM objects WHERE bucket = $1 AND key = 'a'",
        "SELECT o.user_metadata, o.tags, o.user_metadata->'n' AS n, o.user_metadata->>'owner' AS owner \
         FROM objects o JOIN buckets b ON b.name = o.bucket WHERE b.name = $1",
    ] {
        let stmt = c.prepare(sql).await.unwrap();
        let types: Vec<Type> = stmt.columns().iter().map(|c| c.type_().clone()).collect();
        assert_eq!(types[..2], [Type::JSON, Type::JSON], "{sql}");
        assert_eq!(types[3], Type::TEXT, "{sql}");
        assert_eq!(stmt.params(), &[Type::TEXT], "{sql}");
        let row = c.query_one(&stmt, &[&"typed"]).await.unwrap();
        assert_eq!(row.get::<_, serde_json::Value>(0), meta, "{sql}");
        assert_eq!(row.get::<_, serde_json::Value>(1), json!(["x"]), "{sql}");
        assert_eq!(row.get::<_, String>(3), "ana", "{sql}");
    }
    let row = c
        .query_one(
            "SELECT user_metadata->'n' FROM objects WHERE bucket = 'typed' AND key = 'a'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.columns()[0].type_(), &Type::JSON);
    assert_eq!(row.get::<_, serde_json::Value>(0), json!([1, 2]));

    // A client that sends jsonb (binary, with its version byte) is heard.
    let stmt = c
        .prepare_typed(
            "UPDATE objects SET tags = $1 WHERE bucket = 'typed' AND key = 'a'",
            &[Type::JSONB],
        )
        .await
        .unwrap();
    c.execute(&stmt, &[&json!({"k": true})]).await.unwrap();
    let row = c
        .query_one(
            "SELECT tags FROM objects WHERE bucket = 'typed' AND key = 'a'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, serde_json::Value>(0), json!({"k": true}));

    // Not JSON is refused as PostgreSQL's json input refuses it.
    let e = c.execute("SELECT 'not json'::json", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&e), "22P02");
    let e = c
        .execute(
            "UPDATE objects SET tags = 'nope' WHERE bucket = 'typed' AND key = 'a'",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "22P02");
}

#[tokio::test]
async fn cast_parameters_are_described_as_their_cast() {
    let server = Server::start();
    let c = server.connect().await;
    c.execute("INSERT INTO buckets (name) VALUES ('casts')", &[])
        .await
        .unwrap();
    // The fast planner, then DataFusion, where nothing but the cast says
    // what the parameters are.
    let fast = c
        .prepare("SELECT $1::boolean AS b, $2::int8 AS i, $3::jsonb AS j")
        .await
        .unwrap();
    assert_eq!(fast.params(), &[Type::BOOL, Type::INT8, Type::JSONB]);
    let row = c
        .query_one(&fast, &[&true, &7i64, &json!({"a": 1})])
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0));
    assert_eq!(row.get::<_, i64>(1), 7);
    assert_eq!(row.get::<_, serde_json::Value>(2), json!({"a": 1}));
    let analytic = c
        .prepare(
            "SELECT $1::boolean AS b, $2::int8 AS i, $3::int4 AS j FROM buckets b \
             JOIN objects o ON o.bucket = b.name RIGHT JOIN (SELECT 1 AS one) x ON true",
        )
        .await
        .unwrap();
    assert_eq!(analytic.params(), &[Type::BOOL, Type::INT8, Type::INT4]);
    let row = c
        .query_one(&analytic, &[&true, &7i64, &3i32])
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0));
    assert_eq!(row.get::<_, i64>(1), 7);
    assert_eq!(row.get::<_, i32>(2), 3);
    // A parameter number past the protocol's 65535 is refused before
    // anything is sized by it, on both planners; the session goes on.
    for sql in [
        "SELECT $4000000000::int8",
        "SELECT $70000",
        "SELECT $4000000000::int8 FROM buckets b JOIN objects o ON o.bucket = b.name",
    ] {
        let e = c.prepare(sql).await.unwrap_err();
        assert_eq!(sqlstate(&e), "54000", "{sql}");
    }
    // A cast on a compared parameter wins over the comparison's type.
    let stmt = c
        .prepare("SELECT count(*) FROM objects WHERE bucket = $1::text AND size > $2::int4")
        .await
        .unwrap();
    assert_eq!(stmt.params(), &[Type::TEXT, Type::INT4]);
}

/// Integer results are described as their type and fit it, in binary as
/// in text: a `smallint` is an int2, and an integer result past its range
/// is an error (once it went out as an int4 that did not fit, and a binary
/// client read NULL).
#[tokio::test]
async fn integer_results_are_described_as_their_type_and_fit_it() {
    let server = Server::start();
    let c = server.connect().await;
    c.execute("INSERT INTO buckets (name) VALUES ('ints')", &[])
        .await
        .unwrap();
    let stmt = c
        .prepare(
            "SELECT 5::smallint AS s, 5::smallint * 2::smallint AS ss, \
             2147483647::int AS i, length(name) + 1 AS l FROM buckets WHERE name = 'ints'",
        )
        .await
        .unwrap();
    let types: Vec<Type> = stmt.columns().iter().map(|c| c.type_().clone()).collect();
    assert_eq!(types, [Type::INT2, Type::INT2, Type::INT4, Type::INT4]);
    let row = c.query_one(&stmt, &[]).await.unwrap();
    assert_eq!(row.get::<_, i16>(0), 5);
    assert_eq!(row.get::<_, i16>(1), 10);
    assert_eq!(row.get::<_, i32>(2), i32::MAX);
    assert_eq!(row.get::<_, i32>(3), 5);
    for sql in [
        "SELECT 2147483647::int + 1 FROM buckets WHERE name = 'ints'",
        "SELECT 70000::smallint FROM buckets WHERE name = 'ints'",
        "SELECT 200::smallint * 200::smallint FROM buckets WHERE name = 'ints'",
    ] {
        let e = c.query_one(sql, &[]).await.unwrap_err();
        assert_eq!(sqlstate(&e), "22003", "{sql}");
    }
    // A parameter cast to smallint is one on the wire, both ways.
    let stmt = c
        .prepare("SELECT $1::smallint + 1::smallint")
        .await
        .unwrap();
    assert_eq!(stmt.params(), &[Type::INT2]);
    let row = c.query_one(&stmt, &[&41i16]).await.unwrap();
    assert_eq!(row.get::<_, i16>(0), 42);
}

/// `information_schema.columns` names PostgreSQL's types and shows the
/// built-in tables' defaults, as ORMs read them to map a table.
#[tokio::test]
async fn information_schema_columns_speak_postgresql() {
    let server = Server::start();
    let c = server.connect().await;
    let rows = c
        .query(
            "SELECT column_name, data_type, udt_name, column_default, is_nullable \
             FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
            &[&"objects"],
        )
        .await
        .unwrap();
    let got: Vec<(String, String, String, Option<String>, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    let want = |n: &str, t: &str, u: &str, d: Option<&str>, null: &str| {
        (
            n.into(),
            t.into(),
            u.into(),
            d.map(String::from),
            null.into(),
        )
    };
    assert_eq!(got.len(), 10);
    assert_eq!(got[0], want("bucket", "text", "text", None, "NO"));
    assert_eq!(got[3], want("size", "bigint", "int8", Some("0"), "YES"));
    assert_eq!(
        got[6],
        want(
            "storage_class",
            "text",
            "text",
            Some("'STANDARD'::text"),
            "NO"
        )
    );
    assert_eq!(
        got[7],
        want(
            "last_modified",
            "timestamp with time zone",
            "timestamptz",
            Some("now()"),
            "NO"
        )
    );
    assert_eq!(got[8], want("user_metadata", "json", "json", None, "YES"));
    // The catalog's own tables are listed too, with PostgreSQL's names,
    // and the rest of information_schema still answers.
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM information_schema.columns \
             WHERE table_schema = 'pg_catalog' AND table_name = 'pg_class' AND data_type = 'Utf8'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    let tables: Vec<String> = c
        .query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        tables,
        [
            "buckets",
            "multipart_parts",
            "multipart_uploads",
            "object_versions",
            "objects"
        ]
    );
}

/// Arrays go both ways typed: results are described as `int4[]`/`text[]`
/// and read by the driver as arrays, array parameters (binary, with NULL
/// elements, which once took the connection down) come back as sent, and
/// a malformed array literal is refused with 22P02 on a connection that
/// keeps serving.
#[tokio::test]
async fn arrays_are_typed_both_ways() {
    let server = Server::start();
    let c = server.connect().await;
    let ints: Vec<Option<i32>> = vec![Some(1), None, Some(3)];
    let texts = vec!["a".to_string(), "b c".to_string()];
    let stmt = c
        .prepare("SELECT $1::int[] AS ints, $2::text[] AS texts, cardinality($1::int[]) AS n")
        .await
        .unwrap();
    assert_eq!(stmt.params(), &[Type::INT4_ARRAY, Type::TEXT_ARRAY]);
    assert_eq!(stmt.columns()[0].type_(), &Type::INT4_ARRAY);
    assert_eq!(stmt.columns()[1].type_(), &Type::TEXT_ARRAY);
    let row = c.query_one(&stmt, &[&ints, &texts]).await.unwrap();
    assert_eq!(row.get::<_, Vec<Option<i32>>>(0), ints);
    assert_eq!(row.get::<_, Vec<String>>(1), texts);
    assert_eq!(row.get::<_, i64>(2), 3);

    c.execute("INSERT INTO buckets (name) VALUES ('arr')", &[])
        .await
        .unwrap();
    for (key, size) in [("k1", 5i64), ("k2", 9)] {
        c.execute(
            "INSERT INTO objects (bucket, key, size) VALUES ('arr', $1, $2)",
            &[&key, &size],
        )
        .await
        .unwrap();
    }
    let row = c
        .query_one(
            "SELECT array_agg(key ORDER BY key), array_agg(size ORDER BY size), \
             '{7,NULL}'::bigint[] FROM objects WHERE bucket = 'arr'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Vec<String>>(0), ["k1", "k2"]);
    assert_eq!(row.get::<_, Vec<i64>>(1), [5, 9]);
    assert_eq!(row.get::<_, Vec<Option<i64>>>(2), [Some(7), None]);

    // A list parameter searched with `= ANY`, in a write and a read.
    let gone = c
        .execute(
            "DELETE FROM objects WHERE bucket = 'arr' AND key = ANY($1)",
            &[&vec!["k1", "nope"]],
        )
        .await
        .unwrap();
    assert_eq!(gone, 1);
    let left = c
        .query(
            "SELECT key FROM objects WHERE bucket = 'arr' AND size = ANY($1)",
            &[&vec![5i64, 9]],
        )
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].get::<_, &str>(0), "k2");

    let err = c.query("SELECT '{1,'::int[]", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&err), "22P02");
    let n: i64 = c
        .query_one("SELECT count(*) FROM objects WHERE bucket = 'arr'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

#[tokio::test]
async fn a_select_list_may_repeat_a_column_or_an_expression() {
    let server = Server::start();
    let c = server.connect().await;
    c.batch_execute(
        "INSERT INTO buckets (name) VALUES ('twice'); \
         INSERT INTO objects (bucket, key, size) VALUES ('twice', 'k', 7)",
    )
    .await
    .unwrap();
    // DataFusion (a join) refused a projection repeating a name.
    let rows = c
        .query(
            "SELECT o.size, o.size, o.size + 1, o.size + 1, o.key AS k, 1, 1 \
             FROM objects o JOIN buckets b ON b.name = o.bucket ORDER BY o.size",
            &[],
        )
        .await
        .unwrap();
    let names: Vec<&str> = rows[0].columns().iter().map(|c| c.name()).collect();
    assert_eq!(
        names,
        ["size", "size", "?column?", "?column?", "k", "?column?", "?column?"]
    );
    assert_eq!(rows[0].get::<_, i64>(1), 7);
    assert_eq!(rows[0].get::<_, i64>(3), 8);
    let row = c
        .query_one(
            "SELECT b.name, b.name FROM buckets b UNION ALL SELECT o.key, o.key FROM objects o \
             JOIN buckets b ON b.name = o.bucket ORDER BY 1 LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.columns()[1].name(), "name");
    assert_eq!(row.get::<_, String>(1), "k");
}

/// A set-returning function's column is named as PostgreSQL names it: for
/// the table alias, for the function, or for what the query calls it.
#[tokio::test]
async fn set_returning_functions_name_their_columns() {
    let server = Server::start();
    let c = server.connect().await;
    for (sql, name, ints) in [
        ("SELECT * FROM generate_series(1, 2) g", "g", [1, 2]),
        (
            "SELECT * FROM generate_series(1, 2)",
            "generate_series",
            [1, 2],
        ),
        ("SELECT * FROM generate_series(1, 2) AS t (n)", "n", [1, 2]),
        ("SELECT generate_series(3, 4)", "generate_series", [3, 4]),
        ("SELECT * FROM unnest(ARRAY[5, 6]) u", "u", [5, 6]),
    ] {
        let rows = c.query(sql, &[]).await.unwrap();
        assert_eq!(rows[0].columns()[0].name(), name, "{sql}");
        let got: Vec<i64> = rows
            .iter()
            .map(|r| match r.try_get::<_, i32>(0) {
                Ok(v) => i64::from(v),
                Err(_) => r.get::<_, i64>(0),
            })
            .collect();
        assert_eq!(got, ints, "{sql}");
    }
}

#[tokio::test]
async fn jsonb_parameters_compare_numbers_as_numerics_on_both_planners() {
    let server = Server::start();
    let c = server.connect().await;
    c.execute(
        r#"INSERT INTO buckets (name, tags) VALUES ('jb-ten', '{"size":10.0}'), ('jb-half', '{"size":10.50}')"#,
        &[],
    )
    .await
    .unwrap();
    // A point read's planner, then DataFusion (a join), with the value a
    // driver sends as binary jsonb: {"size": 10} equals the stored 10.0.
    for sql in [
        "SELECT name FROM buckets WHERE tags::jsonb = $1::jsonb ORDER BY name",
        "SELECT b.name FROM buckets b JOIN pg_namespace n ON n.nspname = 'public' \
         WHERE b.tags::jsonb = $1::jsonb ORDER BY b.name",
    ] {
        let stmt = c.prepare(sql).await.unwrap();
        assert_eq!(stmt.params(), &[Type::JSONB], "{sql}");
        for (doc, want) in [
            (json!({"size": 10}), vec!["jb-ten"]),
            (json!({"size": 10.5}), vec!["jb-half"]),
            (json!({"size": 1}), vec![]),
        ] {
            let names: Vec<String> = c
                .query(&stmt, &[&doc])
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            assert_eq!(names, want, "{sql} with {doc}");
        }
    }
    // The stored document keeps its digits.
    let row = c
        .query_one(
            "SELECT tags::jsonb::text FROM buckets WHERE name = 'jb-half'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), r#"{"size": 10.50}"#);
}
