// node-postgres against a running bucketdb: parameterised queries
// (extended protocol), simple queries, typed errors.
// Usage: node pg_driver.js HOST PORT   (exits non-zero on failure)
const assert = require("assert");
const { Client } = require("pg");

async function main() {
  const [host, port] = process.argv.slice(2);
  const c = new Client({ host, port: Number(port), user: "postgres", database: "bucketdb" });
  await c.connect();
  await c.query("INSERT INTO buckets (name) VALUES ($1)", ["node-bucket"]);
  for (let i = 0; i < 3; i++) {
    await c.query("INSERT INTO objects (bucket, key, size) VALUES ($1, $2, $3)", ["node-bucket", `k${i}`, i * 10]);
  }
  const r = await c.query("SELECT key, size, last_modified FROM objects WHERE bucket = $1 AND size > $2 ORDER BY key", ["node-bucket", 5]);
  assert.deepStrictEqual(r.rows.map((x) => [x.key, Number(x.size)]), [["k1", 10], ["k2", 20]]);
  assert.ok(r.rows[0].last_modified instanceof Date);
  // A CTE (planned by DataFusion) with a parameter.
  const w = await c.query(
    "WITH big AS (SELECT key, size FROM objects WHERE bucket = $1 AND size >= $2) SELECT count(*) AS n, max(size) AS top FROM big",
    ["node-bucket", 10],
  );
  assert.deepStrictEqual([Number(w.rows[0].n), Number(w.rows[0].top)], [2, 20]);
  const s = await c.query("SELECT count(*) AS n FROM objects");
  assert.strictEqual(Number(s.rows[0].n), 3);
  try {
    await c.query("INSERT INTO buckets (name) VALUES ($1)", ["node-bucket"]);
    assert.fail("duplicate accepted");
  } catch (e) {
    assert.strictEqual(e.code, "23505");
  }
  const after = await c.query("SELECT 1 + 1 AS two");
  assert.strictEqual(Number(after.rows[0].two), 2);
  await c.end();
  console.log("node-postgres ok");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
