// What a Java tool and an ORM do first, against a running bucketdb:
// JDBC's DatabaseMetaData (which schema tools and Hibernate's validation
// read) lists the tables, reflects the columns of `objects` with their
// types, defaults and nullability, its primary key and its foreign key;
// then JPA (EclipseLink, from Debian) maps entities onto `buckets` and
// `objects` (a composite key) and inserts, finds, queries, updates by the
// key and deletes, committing and rolling back.
// Usage: java -cp postgresql.jar:eclipselink.jar:jpa.jar JpaOrm.java HOST PORT
// The password and TLS settings come from PGPASSWORD, PGSSLMODE and
// PGSSLROOTCERT, as `make test` sets them.
import java.io.Serializable;
import java.net.URL;
import java.sql.*;
import java.util.*;
import javax.persistence.*;
import javax.persistence.spi.*;
import javax.sql.DataSource;

public class JpaOrm {
    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
    }

    @Entity
    @Table(name = "buckets")
    public static class Bucket {
        @Id
        public String name;

        public Bucket() {}

        public Bucket(String name) {
            this.name = name;
        }
    }

    public static class ObjKey implements Serializable {
        public String bucket;
        public String objectKey;

        public ObjKey() {}

        public ObjKey(String bucket, String objectKey) {
            this.bucket = bucket;
            this.objectKey = objectKey;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof ObjKey
                && ((ObjKey) o).bucket.equals(bucket)
                && ((ObjKey) o).objectKey.equals(objectKey);
        }

        @Override
        public int hashCode() {
            return Objects.hash(bucket, objectKey);
        }
    }

    @Entity
    @Table(name = "objects")
    @IdClass(ObjKey.class)
    public static class Obj {
        @Id
        public String bucket;

        @Id
        @Column(name = "key")
        public String objectKey;

        public long size;
        public String etag;

        @Column(name = "last_modified", insertable = false, updatable = false)
        @Temporal(TemporalType.TIMESTAMP)
        public java.util.Date lastModified;

        public Obj() {}

        public Obj(String bucket, String key, long size) {
            this.bucket = bucket;
            this.objectKey = key;
            this.size = size;
        }
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://" + args[0] + ":" + args[1] + "/bucketdb?user=postgres";
        String password = System.getenv("PGPASSWORD");
        if (password != null) url += "&password=" + java.net.URLEncoder.encode(password, "UTF-8");
        String sslmode = System.getenv("PGSSLMODE");
        if (sslmode != null) {
            url += "&sslmode=" + sslmode + "&sslrootcert="
                + java.net.URLEncoder.encode(System.getenv("PGSSLROOTCERT"), "UTF-8");
        }
        try (Connection c = DriverManager.getConnection(url)) {
            reflect(c.getMetaData());
        }
        orm(url);
        System.out.println("jpa ok");
    }

    static void reflect(DatabaseMetaData md) throws SQLException {
        Set<String> tables = new HashSet<>();
        try (ResultSet r = md.getTables(null, "public", "%", new String[] {"TABLE"})) {
            while (r.next()) tables.add(r.getString("TABLE_NAME"));
        }
        for (String t : List.of("buckets", "objects", "object_versions", "multipart_uploads", "multipart_parts")) {
            check(tables.contains(t), "table " + t + " listed: " + tables);
        }

        Map<String, String[]> cols = new HashMap<>();
        try (ResultSet r = md.getColumns(null, "public", "objects", "%")) {
            while (r.next()) {
                cols.put(r.getString("COLUMN_NAME"), new String[] {
                    r.getString("TYPE_NAME"), r.getString("COLUMN_DEF"), r.getString("IS_NULLABLE"),
                    String.valueOf(r.getInt("DATA_TYPE")),
                });
            }
        }
        check("int8".equals(cols.get("size")[0]), "size type " + cols.get("size")[0]);
        check(String.valueOf(Types.BIGINT).equals(cols.get("size")[3]), "size is BIGINT");
        check("text".equals(cols.get("key")[0]), "key type " + cols.get("key")[0]);
        check("json".equals(cols.get("user_metadata")[0]), "json type " + cols.get("user_metadata")[0]);
        check("timestamptz".equals(cols.get("last_modified")[0]), "timestamptz " + cols.get("last_modified")[0]);
        check("0".equals(cols.get("size")[1]), "size default " + cols.get("size")[1]);
        check("'STANDARD'::text".equals(cols.get("storage_class")[1]), "default " + cols.get("storage_class")[1]);
        check(cols.get("etag")[1] == null, "no default on etag");
        check("NO".equals(cols.get("key")[2]) && "YES".equals(cols.get("etag")[2]), "nullability");

        List<String> pk = new ArrayList<>();
        try (ResultSet r = md.getPrimaryKeys(null, "public", "objects")) {
            while (r.next()) {
                check("objects_pkey".equals(r.getString("PK_NAME")), "pk name " + r.getString("PK_NAME"));
                pk.add(r.getInt("KEY_SEQ") + ":" + r.getString("COLUMN_NAME"));
            }
        }
        Collections.sort(pk);
        check(pk.equals(List.of("1:bucket", "2:key")), "primary key " + pk);

        List<String> fks = new ArrayList<>();
        try (ResultSet r = md.getImportedKeys(null, "public", "objects")) {
            while (r.next()) {
                fks.add(r.getString("FK_NAME") + " " + r.getString("FKCOLUMN_NAME") + " -> "
                    + r.getString("PKTABLE_NAME") + "." + r.getString("PKCOLUMN_NAME"));
            }
        }
        check(fks.equals(List.of("objects_bucket_fkey bucket -> buckets.name")), "foreign keys " + fks);
    }

    static void orm(String url) throws Exception {
        Map<String, Object> props = new HashMap<>();
        props.put("javax.persistence.jdbc.driver", "org.postgresql.Driver");
        props.put("javax.persistence.jdbc.url", url);
        props.put("eclipselink.target-database", "PostgreSQL");
        props.put("eclipselink.weaving", "false");
        // Every read goes to the server, not to EclipseLink's shared cache.
        props.put("eclipselink.cache.shared.default", "false");
        // The duplicate key below is expected; EclipseLink would log it.
        props.put("eclipselink.logging.level", "OFF");
        EntityManagerFactory emf = new org.eclipse.persistence.jpa.PersistenceProvider()
            .createContainerEntityManagerFactory(new Unit(), props);
        try {
            crud(emf);
        } finally {
            emf.close();
        }
    }

    static void crud(EntityManagerFactory emf) {
        EntityManager em = emf.createEntityManager();
        em.getTransaction().begin();
        em.persist(new Bucket("jpa"));
        em.persist(new Obj("jpa", "a", 1));
        em.persist(new Obj("jpa", "b", 20));
        em.persist(new Obj("jpa", "c", 300));
        em.getTransaction().commit();
        em.clear();

        Obj a = em.find(Obj.class, new ObjKey("jpa", "a"));
        check(a != null && a.size == 1 && a.lastModified != null, "find a");
        List<Obj> big = em.createQuery(
                "SELECT o FROM JpaOrm$Obj o WHERE o.bucket = :b AND o.size >= :s ORDER BY o.objectKey", Obj.class)
            .setParameter("b", "jpa").setParameter("s", 20L).getResultList();
        check(big.size() == 2 && big.get(0).objectKey.equals("b") && big.get(1).objectKey.equals("c"), "query");
        long n = em.createQuery("SELECT COUNT(o) FROM JpaOrm$Obj o WHERE o.bucket = :b", Long.class)
            .setParameter("b", "jpa").getSingleResult();
        check(n == 3, "count " + n);

        // Update by the composite key: a managed entity, and a bulk update
        // whose count must be the rows it changed.
        em.getTransaction().begin();
        a.size = 11;
        int changed = em.createQuery(
                "UPDATE JpaOrm$Obj o SET o.etag = :e WHERE o.bucket = :b AND o.objectKey = :k")
            .setParameter("e", "e-b").setParameter("b", "jpa").setParameter("k", "b").executeUpdate();
        check(changed == 1, "bulk update count " + changed);
        em.getTransaction().commit();
        em.clear();
        check(em.find(Obj.class, new ObjKey("jpa", "a")).size == 11, "a updated");
        check("e-b".equals(em.find(Obj.class, new ObjKey("jpa", "b")).etag), "b updated");

        // Rolled back: nothing of it stays.
        em.getTransaction().begin();
        em.persist(new Obj("jpa", "t1", 5));
        em.flush();
        em.getTransaction().rollback();
        em.clear();
        check(em.find(Obj.class, new ObjKey("jpa", "t1")) == null, "rolled back");

        // A duplicate key fails the commit with 23505.
        em.getTransaction().begin();
        em.persist(new Obj("jpa", "z", 1));
        em.persist(new Obj("jpa", "a", 2));
        boolean refused = false;
        try {
            em.getTransaction().commit();
        } catch (RollbackException e) {
            refused = sqlState(e).equals("23505");
        }
        check(refused, "duplicate refused with 23505");
        em.clear();
        check(em.find(Obj.class, new ObjKey("jpa", "z")) == null, "failed transaction left nothing");

        // Deletes: an entity, then the rest in bulk.
        em.getTransaction().begin();
        em.remove(em.find(Obj.class, new ObjKey("jpa", "c")));
        em.getTransaction().commit();
        em.getTransaction().begin();
        int removed = em.createQuery("DELETE FROM JpaOrm$Obj o WHERE o.bucket = :b")
            .setParameter("b", "jpa").executeUpdate();
        em.getTransaction().commit();
        check(removed == 2, "bulk delete count " + removed);
        em.close();
    }

    static String sqlState(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException) return ((SQLException) t).getSQLState();
        }
        return "";
    }

    /** The persistence unit, given in code rather than a persistence.xml. */
    static class Unit implements PersistenceUnitInfo {
        public String getPersistenceUnitName() { return "bucketdb"; }
        public String getPersistenceProviderClassName() {
            return "org.eclipse.persistence.jpa.PersistenceProvider";
        }
        public PersistenceUnitTransactionType getTransactionType() {
            return PersistenceUnitTransactionType.RESOURCE_LOCAL;
        }
        public DataSource getJtaDataSource() { return null; }
        public DataSource getNonJtaDataSource() { return null; }
        public List<String> getMappingFileNames() { return List.of(); }
        public List<URL> getJarFileUrls() { return List.of(); }
        public URL getPersistenceUnitRootUrl() {
            try {
                return new java.io.File(".").toURI().toURL();
            } catch (java.net.MalformedURLException e) {
                throw new IllegalStateException(e);
            }
        }
        public List<String> getManagedClassNames() {
            return List.of(Bucket.class.getName(), Obj.class.getName());
        }
        public boolean excludeUnlistedClasses() { return true; }
        public SharedCacheMode getSharedCacheMode() { return SharedCacheMode.UNSPECIFIED; }
        public ValidationMode getValidationMode() { return ValidationMode.NONE; }
        public Properties getProperties() { return new Properties(); }
        public String getPersistenceXMLSchemaVersion() { return "2.1"; }
        public ClassLoader getClassLoader() { return JpaOrm.class.getClassLoader(); }
        public void addTransformer(ClassTransformer transformer) {}
        public ClassLoader getNewTempClassLoader() { return JpaOrm.class.getClassLoader(); }
    }
}
