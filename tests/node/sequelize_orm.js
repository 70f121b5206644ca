// Sequelize 6 (over node-postgres) against a running bucketdb: what an ORM
// user does first. Lists the tables, reflects the columns of `objects`
// (types, defaults, nullability, the primary key) and its foreign key,
// maps a model onto it, and inserts, selects, updates by the composite key
// and deletes, outside a transaction and inside one (committed, and rolled
// back by a failing statement).
// Usage: node sequelize_orm.js HOST PORT   (exits non-zero on failure)
// The password and TLS settings come from PGPASSWORD, PGSSLMODE and
// NODE_EXTRA_CA_CERTS, as `make test` sets them.
const assert = require("assert");
const { Sequelize, DataTypes, Op } = require("sequelize");

async function main() {
  const [host, port] = process.argv.slice(2);
  const tls = process.env.PGSSLMODE === "verify-full";
  const db = new Sequelize("bucketdb", "postgres", process.env.PGPASSWORD || null, {
    host,
    port: Number(port),
    dialect: "postgres",
    logging: false,
    dialectOptions: tls ? { ssl: { rejectUnauthorized: true, servername: host } } : {},
  });
  await db.authenticate();

  // Reflection.
  const qi = db.getQueryInterface();
  const tables = (await qi.showAllTables()).map((t) => (typeof t === "string" ? t : t.tableName));
  for (const t of ["buckets", "objects", "object_versions", "multipart_uploads", "multipart_parts"]) {
    assert.ok(tables.includes(t), `table ${t} listed: ${tables}`);
  }
  const cols = await qi.describeTable("objects");
  assert.strictEqual(cols.size.type, "BIGINT", `size: ${JSON.stringify(cols.size)}`);
  assert.strictEqual(cols.key.type, "TEXT", `key: ${JSON.stringify(cols.key)}`);
  assert.strictEqual(cols.user_metadata.type, "JSON", `json: ${JSON.stringify(cols.user_metadata)}`);
  assert.strictEqual(cols.last_modified.type, "TIMESTAMP WITH TIME ZONE");
  assert.strictEqual(cols.size.defaultValue, "0", `size default: ${JSON.stringify(cols.size)}`);
  assert.strictEqual(cols.storage_class.defaultValue, "STANDARD");
  assert.strictEqual(cols.etag.defaultValue, null);
  assert.ok(cols.key.primaryKey && cols.bucket.primaryKey && !cols.size.primaryKey, "primary key");
  assert.ok(!cols.key.allowNull && cols.etag.allowNull, "nullability");
  const fks = await qi.getForeignKeyReferencesForTable("objects");
  assert.strictEqual(fks.length, 1, `one foreign key: ${JSON.stringify(fks)}`);
  assert.strictEqual(fks[0].constraintName, "objects_bucket_fkey");
  assert.strictEqual(fks[0].columnName, "bucket");
  assert.strictEqual(fks[0].referencedTableName, "buckets");
  assert.strictEqual(fks[0].referencedColumnName, "name");

  // A model onto the built-in tables.
  const Bucket = db.define("Bucket", { name: { type: DataTypes.TEXT, primaryKey: true } }, {
    tableName: "buckets",
    timestamps: false,
  });
  const Obj = db.define("Obj", {
    bucket: { type: DataTypes.TEXT, primaryKey: true },
    key: { type: DataTypes.TEXT, primaryKey: true },
    size: { type: DataTypes.BIGINT },
    etag: { type: DataTypes.TEXT },
    user_metadata: { type: DataTypes.JSON },
  }, { tableName: "objects", timestamps: false });

  await Bucket.create({ name: "sequelize" });
  await Obj.create({ bucket: "sequelize", key: "a", size: 1, user_metadata: { owner: "ana" } });
  await Obj.bulkCreate([
    { bucket: "sequelize", key: "b", size: 20 },
    { bucket: "sequelize", key: "c", size: 300 },
  ]);
  const a = await Obj.findOne({ where: { bucket: "sequelize", key: "a" } });
  assert.deepStrictEqual(a.user_metadata, { owner: "ana" });
  assert.strictEqual(Number(a.size), 1);
  const big = await Obj.findAll({ where: { bucket: "sequelize", size: { [Op.gte]: 20 } }, order: [["key", "ASC"]] });
  assert.deepStrictEqual(big.map((o) => o.key), ["b", "c"]);
  assert.strictEqual(await Obj.count({ where: { bucket: "sequelize" } }), 3);

  // Update by the composite key, through an instance and through the model.
  a.size = 11;
  await a.save();
  const [updated] = await Obj.update({ etag: "e-b" }, { where: { bucket: "sequelize", key: "b" } });
  assert.strictEqual(updated, 1, "one row updated");
  assert.strictEqual(Number((await Obj.findOne({ where: { bucket: "sequelize", key: "a" } })).size), 11);
  assert.strictEqual((await Obj.findOne({ where: { bucket: "sequelize", key: "b" } })).etag, "e-b");

  // Inside a transaction: committed.
  await db.transaction(async (t) => {
    await Obj.create({ bucket: "sequelize", key: "t1", size: 5 }, { transaction: t });
    await Obj.destroy({ where: { bucket: "sequelize", key: "c" }, transaction: t });
    assert.strictEqual(await Obj.count({ where: { bucket: "sequelize" }, transaction: t }), 3);
  });
  assert.deepStrictEqual(
    (await Obj.findAll({ where: { bucket: "sequelize" }, order: [["key", "ASC"]] })).map((o) => o.key),
    ["a", "b", "t1"],
  );

  // Inside a transaction that fails: nothing of it stays.
  await assert.rejects(
    db.transaction(async (t) => {
      await Obj.create({ bucket: "sequelize", key: "t2", size: 6 }, { transaction: t });
      await Obj.create({ bucket: "sequelize", key: "a", size: 7 }, { transaction: t });
    }),
    (e) => e.name === "SequelizeUniqueConstraintError",
  );
  assert.strictEqual(await Obj.count({ where: { bucket: "sequelize", key: "t2" } }), 0);

  // A foreign key violation is reported as one.
  await assert.rejects(
    Obj.create({ bucket: "no-such-bucket", key: "x", size: 1 }),
    (e) => e.name === "SequelizeForeignKeyConstraintError",
  );

  const removed = await Obj.destroy({ where: { bucket: "sequelize" } });
  assert.strictEqual(removed, 3);
  await db.close();
  console.log("sequelize ok");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
