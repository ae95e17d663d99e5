// Connector/J (MariaDB Connector/J, Debian's libmariadb-java) through
// shardgate. Compiled and run by connectorj_test.go:
//
//   java -cp <classes>:/usr/share/java/mariadb-java-client.jar Main <host> <port> <url-params> <suffix> <idA> <idB>
//
// url-params are extra JDBC URL options (useServerPrepStmts=...&...); suffix
// makes the table names of one run unique; idA and idB are ids on two
// different shards. One line per check: "ok <name>" or "FAIL <name>: <detail>";
// the exit code is 1 when a check failed.

import java.io.ByteArrayInputStream;
import java.io.StringReader;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.Date;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.Statement;
import java.sql.Time;
import java.sql.Timestamp;
import java.sql.Types;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

public class Main {
    static int failures = 0;

    static void ok(String name) {
        System.out.println("ok " + name);
    }

    static void fail(String name, String detail) {
        failures++;
        System.out.println("FAIL " + name + ": " + detail.replace('\n', ' '));
    }

    static String repr(Object o) {
        if (o == null) return "null";
        if (o instanceof byte[]) {
            byte[] b = (byte[]) o;
            return b.length > 64 ? "bytes(" + b.length + ")" + Arrays.toString(Arrays.copyOf(b, 64)) + "..." : "bytes" + Arrays.toString(b);
        }
        if (o instanceof int[]) return Arrays.toString((int[]) o);
        String s = o.toString();
        if (s.length() > 200) s = s.substring(0, 200) + "...(" + s.length() + " chars)";
        return "\"" + s + "\" (" + o.getClass().getSimpleName() + ")";
    }

    static boolean check(String name, Object got, Object want) {
        boolean same = (got instanceof byte[] && want instanceof byte[])
                ? Arrays.equals((byte[]) got, (byte[]) want)
                : Objects.equals(got, want);
        if (same) {
            ok(name);
            return true;
        }
        String where = "";
        if (got instanceof String && want instanceof String) {
            String g = (String) got, w = (String) want;
            int i = 0;
            while (i < g.length() && i < w.length() && g.charAt(i) == w.charAt(i)) i++;
            where = " (first difference at char " + i + " of " + g.length() + "/" + w.length() + ")";
        } else if (got instanceof byte[] && want instanceof byte[]) {
            byte[] g = (byte[]) got, w = (byte[]) want;
            int i = 0;
            while (i < g.length && i < w.length && g[i] == w[i]) i++;
            where = " (first difference at byte " + i + " of " + g.length + "/" + w.length + ")";
        }
        fail(name, "got " + repr(got) + ", want " + repr(want) + where);
        return false;
    }

    interface Body {
        void run() throws Exception;
    }

    // step runs one group of checks; an exception fails it (named) and the
    // program goes on with the next group.
    static void step(String name, Body b) {
        try {
            b.run();
        } catch (Throwable e) {
            String msg = e.toString();
            if (e instanceof java.sql.SQLException) {
                java.sql.SQLException se = (java.sql.SQLException) e;
                msg = "SQLException errno " + se.getErrorCode() + " sqlstate " + se.getSQLState() + ": " + se.getMessage();
            }
            fail(name, "exception " + msg);
        }
    }

    static String host, port, params, sfx;
    static long idA, idB;

    static Connection connect() throws Exception {
        String url = "jdbc:mariadb://" + host + ":" + port + "/customer?user=app&password=secret&connectTimeout=10000&socketTimeout=60000";
        if (!params.isEmpty()) url += "&" + params;
        return DriverManager.getConnection(url);
    }

    static void exec(Connection c, String sql) throws Exception {
        try (Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    static String one(Connection c, String sql) throws Exception {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            if (!rs.next()) return "<no row>";
            String v = rs.getString(1);
            if (rs.next()) return "<more than one row>";
            return v;
        }
    }

    // all returns every row of a query, columns joined by "," and rows by ";".
    static String all(Connection c, String sql) throws Exception {
        StringBuilder b = new StringBuilder();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            int n = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                if (b.length() > 0) b.append(';');
                for (int j = 1; j <= n; j++) {
                    if (j > 1) b.append(',');
                    b.append(rs.getString(j));
                }
            }
        }
        return b.toString();
    }

    // values of the full row
    static final BigDecimal DEC = new BigDecimal("-12345678901234.123456");
    static final BigDecimal BU = new BigDecimal("18446744073709551615");
    static final String VC = "héllo 😀 'q' \"dq\" \\ back";
    static final String TX;
    static final byte[] BL = {0, 1, 2, (byte) 0xff, (byte) 0x80, 0x27, 0x5c, 0x22, 0x0a, 0x0d, 0x1a};
    static final byte[] BN = {0, (byte) 0xfe, 0x41, 0};
    static final byte[] VB = {(byte) 0xc3, 0x28, 0x00, 0x7f};
    static final String JS = "{\"a\": 1, \"b\": [true, null, \"x😀\"], \"c\": -1.5e10}";
    static final Date D = Date.valueOf("2024-02-29");
    static final Timestamp DT = Timestamp.valueOf("2024-02-29 13:14:15.123456");
    static final Timestamp TS = Timestamp.valueOf("2023-07-01 01:02:03.654321");
    static final Time TM = Time.valueOf("13:14:15");

    static {
        StringBuilder b = new StringBuilder();
        while (b.length() < 10000) b.append("абв😀xyz ");
        TX = b.toString();
    }

    static final String COLS = "id, ti, tiu, si, i, iu, b, bu, dec1, f, dbl, d, dt, ts, tm, vc, tx, bl, bn, vb, js, n";

    static void verifyFull(String p, ResultSet rs) throws Exception {
        if (!rs.next()) {
            fail(p + ".row", "no row for id " + idA);
            return;
        }
        check(p + ".id", rs.getLong("id"), idA);
        check(p + ".tinyint", rs.getInt("ti"), -128);
        check(p + ".tinyint_unsigned", rs.getInt("tiu"), 255);
        check(p + ".smallint", rs.getInt("si"), -32768);
        check(p + ".int", rs.getInt("i"), Integer.MIN_VALUE);
        check(p + ".int_unsigned", rs.getLong("iu"), 4294967295L);
        check(p + ".bigint", rs.getLong("b"), Long.MIN_VALUE);
        check(p + ".bigint_unsigned", rs.getBigDecimal("bu"), BU);
        check(p + ".bigint_unsigned_string", rs.getString("bu"), "18446744073709551615");
        check(p + ".decimal", rs.getBigDecimal("dec1"), DEC);
        check(p + ".float", rs.getFloat("f"), 1.5f);
        check(p + ".double", rs.getDouble("dbl"), Math.PI);
        check(p + ".date", String.valueOf(rs.getDate("d")), "2024-02-29");
        check(p + ".datetime6", rs.getTimestamp("dt"), DT);
        check(p + ".timestamp6", rs.getTimestamp("ts"), TS);
        check(p + ".time", String.valueOf(rs.getTime("tm")), "13:14:15");
        check(p + ".varchar_utf8mb4", rs.getString("vc"), VC);
        check(p + ".text_utf8mb4", rs.getString("tx"), TX);
        check(p + ".blob", rs.getBytes("bl"), BL);
        check(p + ".binary", rs.getBytes("bn"), BN);
        check(p + ".varbinary", rs.getBytes("vb"), VB);
        check(p + ".json", rs.getString("js"), JS);
        rs.getInt("n");
        check(p + ".null_int_wasNull", rs.wasNull(), true);
        check(p + ".null_int_getObject", rs.getObject("n"), null);
        check(p + ".one_row", rs.next(), false);
    }

    static void verifyNull(String p, ResultSet rs) throws Exception {
        if (!rs.next()) {
            fail(p + ".row", "no row for id " + idB);
            return;
        }
        check(p + ".id", rs.getLong("id"), idB);
        List<String> notNull = new ArrayList<>();
        ResultSetMetaData md = rs.getMetaData();
        for (int i = 2; i <= md.getColumnCount(); i++) {
            if (rs.getObject(i) != null) notNull.add(md.getColumnName(i) + "=" + rs.getString(i));
        }
        check(p + ".all_null", notNull.toString(), "[]");
        check(p + ".one_row", rs.next(), false);
    }

    public static void main(String[] args) throws Exception {
        host = args[0];
        port = args[1];
        params = args[2];
        sfx = args[3];
        idA = Long.parseLong(args[4]);
        idB = Long.parseLong(args[5]);
        final String types = "cj_types_" + sfx, batch = "cj_batch_" + sfx, tx = "cj_tx_" + sfx, auto = "cj_auto_" + sfx;

        Connection c;
        try {
            c = connect();
            ok("connect");
        } catch (Exception e) {
            fail("connect", e.toString());
            System.exit(1);
            return;
        }

        step("startup", () -> {
            check("startup.autocommit", c.getAutoCommit(), true);
            check("startup.select_autocommit", one(c, "SELECT @@autocommit"), "1");
            check("startup.database", one(c, "SELECT DATABASE()"), "customer");
            check("startup.catalog", c.getCatalog(), "customer");
            // The driver's startup added STRICT_TRANS_TABLES to the session's sql_mode.
            String mode = one(c, "SELECT @@sql_mode");
            check("startup.sql_mode_strict", mode != null && mode.contains("STRICT_TRANS_TABLES"), true);
            check("startup.max_allowed_packet", Long.parseLong(one(c, "SELECT @@max_allowed_packet")) > 0, true);
            check("startup.isValid", c.isValid(5), true);
            DatabaseMetaData md = c.getMetaData();
            String v = md.getDatabaseProductVersion();
            check("startup.product_version", v != null && !v.isEmpty(), true);
        });

        step("ddl", () -> {
            exec(c, "DROP TABLE IF EXISTS " + types);
            exec(c, "CREATE TABLE " + types + " (id BIGINT NOT NULL PRIMARY KEY, ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, i INT,"
                    + " iu INT UNSIGNED, b BIGINT, bu BIGINT UNSIGNED, dec1 DECIMAL(20,6), f FLOAT, dbl DOUBLE, d DATE, dt DATETIME(6),"
                    + " ts TIMESTAMP(6) NULL DEFAULT NULL, tm TIME, vc VARCHAR(100), tx MEDIUMTEXT, bl MEDIUMBLOB, bn BINARY(4), vb VARBINARY(16),"
                    + " js JSON, n INT NULL) DEFAULT CHARSET=utf8mb4");
            exec(c, "DROP TABLE IF EXISTS " + batch);
            exec(c, "CREATE TABLE " + batch + " (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(20), n INT NOT NULL) DEFAULT CHARSET=utf8mb4");
            exec(c, "DROP TABLE IF EXISTS " + tx);
            exec(c, "CREATE TABLE " + tx + " (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(20)) DEFAULT CHARSET=utf8mb4");
            exec(c, "DROP TABLE IF EXISTS " + auto);
            exec(c, "CREATE TABLE " + auto + " (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20)) DEFAULT CHARSET=utf8mb4");
            ok("ddl");
        });

        step("types.insert", () -> {
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + types + " (" + COLS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
                int k = 1;
                ps.setLong(k++, idA);
                ps.setByte(k++, (byte) -128);
                ps.setInt(k++, 255);
                ps.setShort(k++, (short) -32768);
                ps.setInt(k++, Integer.MIN_VALUE);
                ps.setLong(k++, 4294967295L);
                ps.setLong(k++, Long.MIN_VALUE);
                ps.setBigDecimal(k++, BU);
                ps.setBigDecimal(k++, DEC);
                ps.setFloat(k++, 1.5f);
                ps.setDouble(k++, Math.PI);
                ps.setDate(k++, D);
                ps.setTimestamp(k++, DT);
                ps.setTimestamp(k++, TS);
                ps.setTime(k++, TM);
                ps.setString(k++, VC);
                ps.setString(k++, TX);
                ps.setBytes(k++, BL);
                ps.setBytes(k++, BN);
                ps.setBytes(k++, VB);
                ps.setString(k++, JS);
                ps.setNull(k++, Types.INTEGER);
                check("types.insert_full.update_count", ps.executeUpdate(), 1);

                int[] sqlTypes = {Types.TINYINT, Types.TINYINT, Types.SMALLINT, Types.INTEGER, Types.BIGINT, Types.BIGINT, Types.DECIMAL,
                        Types.DECIMAL, Types.FLOAT, Types.DOUBLE, Types.DATE, Types.TIMESTAMP, Types.TIMESTAMP, Types.TIME, Types.VARCHAR,
                        Types.LONGVARCHAR, Types.BLOB, Types.BINARY, Types.VARBINARY, Types.VARCHAR, Types.INTEGER};
                // Re-execution of the same statement with other types (NULLs).
                ps.setLong(1, idB);
                for (int j = 0; j < sqlTypes.length; j++) ps.setNull(j + 2, sqlTypes[j]);
                check("types.insert_null.update_count", ps.executeUpdate(), 1);
            }
        });

        step("types.select_prepared", () -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT " + COLS + " FROM " + types + " WHERE id = ?")) {
                ps.setLong(1, idA);
                try (ResultSet rs = ps.executeQuery()) {
                    verifyFull("types.select_prepared", rs);
                }
                ps.setLong(1, idB);
                try (ResultSet rs = ps.executeQuery()) {
                    verifyNull("types.select_prepared_null", rs);
                }
            }
        });

        step("types.select_text", () -> {
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT " + COLS + " FROM " + types + " WHERE id = " + idA)) {
                verifyFull("types.select_text", rs);
            }
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT " + COLS + " FROM " + types + " WHERE id = " + idB)) {
                verifyNull("types.select_text_null", rs);
            }
        });

        step("types.server_text", () -> {
            // What the server stored, as text (independent of the driver's conversions).
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(
                    "SELECT CAST(dt AS CHAR), CAST(d AS CHAR), CAST(dec1 AS CHAR), HEX(bl), HEX(vc), CHAR_LENGTH(tx), JSON_VALUE(js, '$.b[2]') FROM " + types + " WHERE id = " + idA)) {
                if (!rs.next()) {
                    fail("types.server_text", "no row");
                    return;
                }
                check("types.server_text.datetime6", rs.getString(1), "2024-02-29 13:14:15.123456");
                check("types.server_text.date", rs.getString(2), "2024-02-29");
                check("types.server_text.decimal", rs.getString(3), "-12345678901234.123456");
                check("types.server_text.blob_hex", rs.getString(4), "000102FF80275C220A0D1A");
                StringBuilder hex = new StringBuilder();
                for (byte x : VC.getBytes(StandardCharsets.UTF_8)) hex.append(String.format("%02X", x));
                check("types.server_text.varchar_utf8_hex", rs.getString(5), hex.toString());
                check("types.server_text.text_length", rs.getLong(6), (long) TX.codePointCount(0, TX.length()));
                check("types.server_text.json_value", rs.getString(7), "x😀");
            }
        });

        step("types.param_retyped", () -> {
            // One prepared statement re-executed with a parameter of another type.
            try (PreparedStatement ps = c.prepareStatement("SELECT id FROM " + types + " WHERE id = ?")) {
                ps.setLong(1, idA);
                try (ResultSet rs = ps.executeQuery()) {
                    check("types.param_retyped.long", rs.next() ? rs.getLong(1) : -1, idA);
                }
                ps.setString(1, Long.toString(idB));
                try (ResultSet rs = ps.executeQuery()) {
                    check("types.param_retyped.string", rs.next() ? rs.getLong(1) : -1, idB);
                }
                ps.setBigDecimal(1, new BigDecimal(idA));
                try (ResultSet rs = ps.executeQuery()) {
                    check("types.param_retyped.decimal", rs.next() ? rs.getLong(1) : -1, idA);
                }
            }
        });

        step("types.streams", () -> {
            // Stream parameters (COM_STMT_SEND_LONG_DATA with server-side prepared statements).
            byte[] big = new byte[200000];
            for (int j = 0; j < big.length; j++) big[j] = (byte) (j * 7 + j / 251);
            StringBuilder sb = new StringBuilder();
            // (no characters outside the BMP: the driver's reader may split surrogate pairs)
            while (sb.length() < 50000) sb.append("long data é ");
            String bigText = sb.toString();
            try (PreparedStatement ps = c.prepareStatement("UPDATE " + types + " SET bl = ?, tx = ? WHERE id = ?")) {
                ps.setBinaryStream(1, new ByteArrayInputStream(big), big.length);
                ps.setCharacterStream(2, new StringReader(bigText), bigText.length());
                ps.setLong(3, idB);
                check("types.streams.update_count", ps.executeUpdate(), 1);
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT bl, tx FROM " + types + " WHERE id = ?")) {
                ps.setLong(1, idB);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        fail("types.streams.row", "no row");
                        return;
                    }
                    check("types.streams.blob", rs.getBytes(1), big);
                    check("types.streams.text", rs.getString(2), bigText);
                }
            }
        });

        step("rsmd", () -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT id, iu, bu, dec1, dbl, vc, bl, dt, n AS n_alias FROM " + types + " WHERE id = ?")) {
                ps.setLong(1, idA);
                try (ResultSet rs = ps.executeQuery()) {
                    ResultSetMetaData md = rs.getMetaData();
                    check("rsmd.count", md.getColumnCount(), 9);
                    List<String> names = new ArrayList<>(), labels = new ArrayList<>(), typeNames = new ArrayList<>();
                    List<Integer> sqlTypes = new ArrayList<>();
                    for (int j = 1; j <= md.getColumnCount(); j++) {
                        names.add(md.getColumnName(j));
                        labels.add(md.getColumnLabel(j));
                        typeNames.add(md.getColumnTypeName(j));
                        sqlTypes.add(md.getColumnType(j));
                    }
                    check("rsmd.names", names.toString(), "[id, iu, bu, dec1, dbl, vc, bl, dt, n]");
                    check("rsmd.labels", labels.toString(), "[id, iu, bu, dec1, dbl, vc, bl, dt, n_alias]");
                    check("rsmd.type_names", typeNames.toString(), "[BIGINT, INTEGER UNSIGNED, BIGINT UNSIGNED, DECIMAL, DOUBLE, VARCHAR, MEDIUMBLOB, DATETIME, INTEGER]");
                    check("rsmd.types", sqlTypes.toString(), Arrays.asList(Types.BIGINT, Types.INTEGER, Types.BIGINT, Types.DECIMAL, Types.DOUBLE,
                            Types.VARCHAR, Types.VARBINARY, Types.TIMESTAMP, Types.INTEGER).toString());
                    check("rsmd.signed_id", md.isSigned(1), true);
                    check("rsmd.signed_iu", md.isSigned(2), false);
                    check("rsmd.decimal_precision", md.getPrecision(4), 20);
                    check("rsmd.decimal_scale", md.getScale(4), 6);
                    check("rsmd.table", md.getTableName(1), types);
                    check("rsmd.catalog", md.getCatalogName(1), "customer");
                    check("rsmd.nullable_id", md.isNullable(1), ResultSetMetaData.columnNoNulls);
                    check("rsmd.nullable_n", md.isNullable(9), ResultSetMetaData.columnNullable);
                    check("rsmd.auto_increment_id", md.isAutoIncrement(1), false);
                }
            }
        });

        step("batch", () -> {
            int n = 60;
            long sumId = 0, sumN = 0;
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + batch + " (id, v, n) VALUES (?, ?, ?)")) {
                for (int j = 1; j <= n; j++) {
                    ps.setLong(1, j);
                    ps.setString(2, "v" + j + "😀");
                    ps.setInt(3, j * 10);
                    ps.addBatch();
                    sumId += j;
                    sumN += j * 10;
                }
                int[] counts = ps.executeBatch();
                check("batch.insert.count_length", counts.length, n);
                int bad = 0;
                for (int x : counts) if (x != 1 && x != Statement.SUCCESS_NO_INFO) bad++;
                check("batch.insert.counts", bad == 0 ? "1 or SUCCESS_NO_INFO" : Arrays.toString(counts), "1 or SUCCESS_NO_INFO");
            }
            check("batch.insert.rows", all(c, "SELECT COUNT(*), SUM(id), SUM(n) FROM " + batch), n + "," + sumId + "," + sumN);
            check("batch.insert.value", one(c, "SELECT v FROM " + batch + " WHERE id = 7"), "v7😀");
            try (PreparedStatement ps = c.prepareStatement("UPDATE " + batch + " SET n = n + ? WHERE id = ?")) {
                for (int j = 1; j <= n; j++) {
                    ps.setInt(1, 1);
                    ps.setLong(2, j);
                    ps.addBatch();
                }
                int[] counts = ps.executeBatch();
                check("batch.update.count_length", counts.length, n);
                int bad = 0;
                for (int x : counts) if (x != 1 && x != Statement.SUCCESS_NO_INFO) bad++;
                check("batch.update.counts", bad == 0 ? "1 or SUCCESS_NO_INFO" : Arrays.toString(counts), "1 or SUCCESS_NO_INFO");
            }
            check("batch.update.sum", one(c, "SELECT SUM(n) FROM " + batch), Long.toString(sumN + n));
            try (Statement st = c.createStatement()) {
                st.addBatch("DELETE FROM " + batch + " WHERE id = 1");
                st.addBatch("DELETE FROM " + batch + " WHERE id = 2");
                st.addBatch("UPDATE " + batch + " SET v = 'x' WHERE id IN (3, 4, 5)");
                int[] counts = st.executeBatch();
                check("batch.statement.counts", Arrays.toString(counts), "[1, 1, 3]");
            }
            check("batch.statement.rows", one(c, "SELECT COUNT(*) FROM " + batch), Integer.toString(n - 2));
        });

        step("fetch", () -> {
            // Streaming a cross-shard ordered result 7 rows at a time.
            try (Statement st = c.createStatement()) {
                st.setFetchSize(7);
                try (ResultSet rs = st.executeQuery("SELECT id, v FROM " + batch + " ORDER BY id")) {
                    List<Long> ids = new ArrayList<>();
                    while (rs.next()) ids.add(rs.getLong(1));
                    List<Long> want = new ArrayList<>();
                    for (long j = 3; j <= 60; j++) want.add(j);
                    check("fetch.ordered_ids", ids.toString(), want.toString());
                }
            }
            // The connection is usable after a streamed result.
            check("fetch.after", one(c, "SELECT COUNT(*) FROM " + batch), "58");
        });

        step("tx", () -> {
            try (Connection other = connect()) {
                String count = "SELECT COUNT(*) FROM " + tx + " WHERE id IN (" + idA + ", " + idB + ")";
                c.setAutoCommit(false);
                check("tx.autocommit_off", c.getAutoCommit(), false);
                check("tx.select_autocommit_off", one(c, "SELECT @@autocommit"), "0");
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + tx + " (id, v) VALUES (?, ?)")) {
                    ps.setLong(1, idA);
                    ps.setString(2, "a");
                    ps.executeUpdate();
                    ps.setLong(1, idB);
                    ps.setString(2, "b");
                    ps.executeUpdate();
                }
                check("tx.own_rows_visible", one(c, count), "2");
                check("tx.uncommitted_invisible", one(other, count), "0");
                c.rollback();
                check("tx.rollback_own", one(c, count), "0");
                check("tx.rollback_other", one(other, count), "0");

                try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + tx + " (id, v) VALUES (?, ?)")) {
                    ps.setLong(1, idA);
                    ps.setString(2, "a2");
                    ps.executeUpdate();
                    ps.setLong(1, idB);
                    ps.setString(2, "b2");
                    ps.executeUpdate();
                }
                c.commit();
                check("tx.commit_other", all(other, "SELECT v FROM " + tx + " ORDER BY v"), "a2;b2");

                exec(c, "UPDATE " + tx + " SET v = 'a3' WHERE id = " + idA);
                exec(c, "UPDATE " + tx + " SET v = 'b3' WHERE id = " + idB);
                c.rollback();
                check("tx.rollback_updates", all(other, "SELECT v FROM " + tx + " ORDER BY v"), "a2;b2");

                c.setAutoCommit(true);
                check("tx.autocommit_on", c.getAutoCommit(), true);
                check("tx.select_autocommit_on", one(c, "SELECT @@autocommit"), "1");
                exec(c, "UPDATE " + tx + " SET v = 'a4' WHERE id = " + idA);
                check("tx.autocommit_visible", one(other, "SELECT v FROM " + tx + " WHERE id = " + idA), "a4");
            }
        });

        step("isolation", () -> {
            c.setTransactionIsolation(Connection.TRANSACTION_READ_COMMITTED);
            check("isolation.read_committed", c.getTransactionIsolation(), Connection.TRANSACTION_READ_COMMITTED);
            check("isolation.tx_isolation", one(c, "SELECT @@tx_isolation"), "READ-COMMITTED");
            c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
            check("isolation.repeatable_read", c.getTransactionIsolation(), Connection.TRANSACTION_REPEATABLE_READ);
        });

        step("generated_keys", () -> {
            Set<Long> keys = new HashSet<>();
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + auto + " (v) VALUES (?)", Statement.RETURN_GENERATED_KEYS)) {
                for (int j = 0; j < 5; j++) {
                    ps.setString(1, "p" + j);
                    check("generated_keys.prepared.update_count." + j, ps.executeUpdate(), 1);
                    try (ResultSet rs = ps.getGeneratedKeys()) {
                        if (!rs.next()) {
                            fail("generated_keys.prepared." + j, "no generated key");
                            continue;
                        }
                        long key = rs.getLong(1);
                        keys.add(key);
                        check("generated_keys.prepared.positive." + j, key > 0, true);
                        check("generated_keys.prepared.row." + j, one(c, "SELECT v FROM " + auto + " WHERE id = " + key), "p" + j);
                        check("generated_keys.prepared.last_insert_id." + j, one(c, "SELECT LAST_INSERT_ID()"), Long.toString(key));
                    }
                }
            }
            check("generated_keys.distinct", keys.size(), 5);
            try (Statement st = c.createStatement()) {
                check("generated_keys.multi.update_count", st.executeUpdate("INSERT INTO " + auto + " (v) VALUES ('m0'), ('m1'), ('m2')", Statement.RETURN_GENERATED_KEYS), 3);
                try (ResultSet rs = st.getGeneratedKeys()) {
                    int j = 0;
                    while (rs.next()) {
                        long key = rs.getLong(1);
                        check("generated_keys.multi.row." + j, one(c, "SELECT v FROM " + auto + " WHERE id = " + key), "m" + j);
                        j++;
                    }
                    check("generated_keys.multi.count", j, 3);
                }
            }
            check("generated_keys.rows", one(c, "SELECT COUNT(*) FROM " + auto), "8");
        });

        step("dbmd", () -> {
            DatabaseMetaData md = c.getMetaData();
            List<String> tables = new ArrayList<>();
            try (ResultSet rs = md.getTables("customer", null, "cj\\_%\\_" + sfx, new String[] {"TABLE"})) {
                while (rs.next()) {
                    tables.add(rs.getString("TABLE_CAT") + "." + rs.getString("TABLE_NAME"));
                }
            }
            List<String> want = new ArrayList<>(Arrays.asList("customer." + auto, "customer." + batch, "customer." + tx, "customer." + types));
            java.util.Collections.sort(tables);
            check("dbmd.getTables", tables.toString(), want.toString());

            List<String> cols = new ArrayList<>();
            String idType = null, decDigits = null, vcSize = null, idNullable = null;
            try (ResultSet rs = md.getColumns("customer", null, types, "%")) {
                while (rs.next()) {
                    String name = rs.getString("COLUMN_NAME");
                    cols.add(name);
                    if (name.equals("id")) {
                        idType = rs.getString("DATA_TYPE");
                        idNullable = rs.getString("IS_NULLABLE");
                    }
                    if (name.equals("dec1")) decDigits = rs.getString("COLUMN_SIZE") + "," + rs.getString("DECIMAL_DIGITS");
                    if (name.equals("vc")) vcSize = rs.getString("COLUMN_SIZE");
                }
            }
            check("dbmd.getColumns.names", String.join(", ", cols), COLS);
            check("dbmd.getColumns.id_type", idType, Integer.toString(Types.BIGINT));
            check("dbmd.getColumns.id_nullable", idNullable, "NO");
            check("dbmd.getColumns.decimal", decDigits, "20,6");
            check("dbmd.getColumns.varchar_size", vcSize, "100");

            List<String> pk = new ArrayList<>();
            try (ResultSet rs = md.getPrimaryKeys("customer", null, types)) {
                while (rs.next()) pk.add(rs.getString("COLUMN_NAME"));
            }
            check("dbmd.getPrimaryKeys", pk.toString(), "[id]");

            List<String> cats = new ArrayList<>();
            try (ResultSet rs = md.getCatalogs()) {
                while (rs.next()) {
                    String cat = rs.getString(1);
                    if (cat.equals("customer") || cat.equals("commerce")) cats.add(cat);
                }
            }
            check("dbmd.getCatalogs", cats.toString(), "[commerce, customer]");
        });

        step("catalog", () -> {
            c.setCatalog("commerce");
            check("catalog.commerce", one(c, "SELECT DATABASE()"), "commerce");
            c.setCatalog("customer");
            check("catalog.customer", c.getCatalog(), "customer");
            check("catalog.query_after", one(c, "SELECT COUNT(*) FROM " + tx), "2");
        });

        c.close();
        System.exit(failures > 0 ? 1 : 0);
    }
}
