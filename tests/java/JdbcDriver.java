// pgjdbc against a running bucketdb: prepared statements with parameters,
// typed errors, and the session going on after one.
// Usage: java -cp postgresql.jar JdbcDriver.java HOST PORT
import java.sql.*;

public class JdbcDriver {
    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://" + args[0] + ":" + args[1] + "/bucketdb?user=postgres";
        // The harness passes the password as libpq would read it.
        String password = System.getenv("PGPASSWORD");
        if (password != null) url += "&password=" + java.net.URLEncoder.encode(password, "UTF-8");
        // And TLS: pgjdbc takes libpq's sslmode and a PEM root certificate.
        String sslmode = System.getenv("PGSSLMODE");
        if (sslmode != null) {
            url += "&sslmode=" + sslmode + "&sslrootcert="
                + java.net.URLEncoder.encode(System.getenv("PGSSLROOTCERT"), "UTF-8");
        }
        try (Connection c = DriverManager.getConnection(url)) {
            try (Statement s = c.createStatement()) {
                s.executeUpdate("INSERT INTO buckets (name) VALUES ('jdbc-bucket')");
            }
            try (PreparedStatement p = c.prepareStatement(
                    "INSERT INTO objects (bucket, key, size) VALUES (?, ?, ?)")) {
                for (int i = 0; i < 6; i++) {
                    p.setString(1, "jdbc-bucket");
                    p.setString(2, "k" + i);
                    p.setLong(3, i * 100L);
                    check(p.executeUpdate() == 1, "insert count");
                }
            }
            try (PreparedStatement p = c.prepareStatement(
                    "SELECT key, size, last_modified FROM objects WHERE bucket = ? AND size >= ? ORDER BY key")) {
                p.setString(1, "jdbc-bucket");
                p.setLong(2, 400);
                try (ResultSet r = p.executeQuery()) {
                    check(r.next() && r.getString(1).equals("k4") && r.getLong(2) == 400, "row k4");
                    check(r.getTimestamp(3) != null, "timestamp");
                    check(r.next() && r.getString(1).equals("k5"), "row k5");
                    check(!r.next(), "two rows");
                }
            }
            // A subquery (planned by DataFusion) in a transaction, as
            // applications with autocommit off run everything.
            c.setAutoCommit(false);
            try (PreparedStatement p = c.prepareStatement(
                    "SELECT name FROM buckets WHERE name IN (SELECT bucket FROM objects WHERE size > ?)")) {
                p.setLong(1, 450);
                try (ResultSet r = p.executeQuery()) {
                    check(r.next() && r.getString(1).equals("jdbc-bucket"), "subquery row");
                    check(!r.next(), "one subquery row");
                }
            }
            c.commit();
            c.setAutoCommit(true);
            try (Statement s = c.createStatement()) {
                s.executeUpdate("INSERT INTO buckets (name) VALUES ('jdbc-bucket')");
                throw new AssertionError("duplicate accepted");
            } catch (SQLException e) {
                check("23505".equals(e.getSQLState()), "sqlstate " + e.getSQLState());
            }
            // Batches report one count per statement (a Describe of an
            // INSERT answers NoData, so pgjdbc does not take it for a query),
            // outside a transaction and inside one.
            for (boolean auto : new boolean[] {true, false}) {
                c.setAutoCommit(auto);
                try (PreparedStatement p = c.prepareStatement(
                        "INSERT INTO objects (bucket, key, user_metadata) VALUES (?, ?, ?::json)")) {
                    for (int i = 0; i < 2; i++) {
                        p.setString(1, "jdbc-bucket");
                        p.setString(2, "batch-" + auto + "-" + i);
                        p.setString(3, "{\"n\": " + i + "}");
                        p.addBatch();
                    }
                    int[] counts = p.executeBatch();
                    check(java.util.Arrays.equals(counts, new int[] {1, 1}),
                        "batch counts " + java.util.Arrays.toString(counts));
                }
                if (!auto) {
                    c.commit();
                }
            }
            c.setAutoCommit(true);
            try (PreparedStatement p = c.prepareStatement(
                    "UPDATE objects SET size = ? WHERE bucket = ? AND key LIKE 'batch-%'")) {
                p.setLong(1, 9);
                p.setString(2, "jdbc-bucket");
                check(p.executeUpdate() == 4, "update count");
            }
            try (Statement s = c.createStatement(); ResultSet r = s.executeQuery(
                    "SELECT user_metadata FROM objects WHERE bucket = 'jdbc-bucket' AND key = 'batch-true-1'")) {
                check(r.next(), "json row");
                check("json".equals(r.getMetaData().getColumnTypeName(1)),
                    "json column type " + r.getMetaData().getColumnTypeName(1));
                check("{\"n\": 1}".equals(r.getString(1)), "json value " + r.getString(1));
            }
            try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("SELECT count(*) FROM objects")) {
                check(r.next() && r.getLong(1) == 10, "count");
            }
        }
        System.out.println("pgjdbc ok");
    }
}
