// Connector/J's view of insert ids (issue 26). Compiled and run by
// insertid_test.go:
//
//   java -cp <classes>:/usr/share/java/mariadb-java-client.jar Ids <host> <port> <url-params> <table> < steps
//
// Each line of stdin is a step: mode, SQL and arguments separated by tabs.
// Modes: "exec" (Statement.executeUpdate with RETURN_GENERATED_KEYS), "prep"
// (PreparedStatement with RETURN_GENERATED_KEYS; an argument "NULL" is
// setNull, a number setLong, anything else setString) and "query"
// (executeQuery). It prints what the driver reports, one line each:
//
//   obs <step> keys <k1,k2,...>   getGeneratedKeys() after exec/prep
//   obs <step> rows <v1,v2,...>   the first column of a query's rows
//   obs <step> err <code>         SQLException.getErrorCode()
//   obs <step> lid <id>           SELECT LAST_INSERT_ID() afterwards
//   row <id> <v>                  SELECT id, v FROM <table> at the end
//
// The Go test runs it against the proxy and a plain MariaDB and compares.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;

public class Ids {
    public static void main(String[] args) throws Exception {
        String url = "jdbc:mariadb://" + args[0] + ":" + args[1] + "/customer?user=app&password=secret&" + args[2];
        String table = args[3];
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        try (Connection c = DriverManager.getConnection(url)) {
            int step = 0;
            for (String line; (line = in.readLine()) != null; ) {
                if (line.isEmpty()) continue;
                step++;
                String[] f = line.split("\t", -1);
                try {
                    run(c, step, f);
                } catch (SQLException e) {
                    System.out.println("obs " + step + " err " + e.getErrorCode());
                }
                System.out.println("obs " + step + " lid " + first(c, "SELECT LAST_INSERT_ID()"));
            }
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT id, v FROM " + table)) {
                while (rs.next()) System.out.println("row " + rs.getLong(1) + " " + rs.getString(2));
            }
        }
    }

    static void run(Connection c, int step, String[] f) throws SQLException {
        String mode = f[0], sql = f[1];
        switch (mode) {
            case "exec":
                try (Statement st = c.createStatement()) {
                    st.executeUpdate(sql, Statement.RETURN_GENERATED_KEYS);
                    keys(step, st);
                }
                break;
            case "prep":
                try (PreparedStatement ps = c.prepareStatement(sql, Statement.RETURN_GENERATED_KEYS)) {
                    for (int i = 2; i < f.length; i++) {
                        String a = f[i];
                        if (a.equals("NULL")) {
                            ps.setNull(i - 1, Types.BIGINT);
                        } else if (a.matches("-?[0-9]+")) {
                            ps.setLong(i - 1, Long.parseLong(a));
                        } else {
                            ps.setString(i - 1, a);
                        }
                    }
                    ps.executeUpdate();
                    keys(step, ps);
                }
                break;
            case "query":
                List<String> vals = new ArrayList<>();
                try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
                    while (rs.next()) vals.add(rs.getString(1));
                }
                System.out.println("obs " + step + " rows " + String.join(",", vals));
                break;
            default:
                throw new IllegalArgumentException("unknown mode " + mode);
        }
    }

    static void keys(int step, Statement st) throws SQLException {
        List<String> keys = new ArrayList<>();
        try (ResultSet rs = st.getGeneratedKeys()) {
            while (rs.next()) keys.add(Long.toString(rs.getLong(1)));
        }
        System.out.println("obs " + step + " keys " + String.join(",", keys));
    }

    static String first(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
