#!/usr/bin/python3
"""PyMySQL through shardgate. Run by pymysql_test.go:

    /usr/bin/python3 pymysql_test.py <host> <port> <suffix> <idA> <idB>

suffix makes table names unique; idA and idB are ids on two different
shards. One line per check: "ok <name>" or "FAIL <name>: <detail>"; the exit
code is 1 when a check failed.
"""

import datetime
import decimal
import sys
import traceback

import pymysql
import pymysql.cursors
from pymysql.constants import CLIENT

failures = 0


def ok(name):
    print("ok " + name, flush=True)


def fail(name, detail):
    global failures
    failures += 1
    print("FAIL %s: %s" % (name, str(detail).replace("\n", " ")), flush=True)


def short(v):
    r = repr(v)
    return r if len(r) <= 200 else r[:200] + "...(%d chars)" % len(r)


def check(name, got, want):
    if got == want and type(got) == type(want):
        ok(name)
        return True
    fail(name, "got %s (%s), want %s (%s)" % (short(got), type(got).__name__, short(want), type(want).__name__))
    return False


class step:
    """with step("name"): ... turns an exception into a FAIL of that step."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        return self

    def __exit__(self, typ, exc, tb):
        if exc is not None:
            detail = "%s: %s" % (typ.__name__, exc)
            fail(self.name, "exception " + detail + " at " + " / ".join(
                "%s:%d" % (f.name, f.lineno) for f in traceback.extract_tb(tb)[-2:]))
        return True


host, port, sfx, idA, idB = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
T_TYPES, T_MANY, T_TX, T_AUTO, T_WARN = ("py_%s_%s" % (n, sfx) for n in ("types", "many", "tx", "auto", "warn"))


def connect(**kw):
    args = dict(host=host, port=port, user="app", password="secret", database="customer", charset="utf8mb4",
                connect_timeout=10, read_timeout=60, write_timeout=60)
    args.update(kw)
    return pymysql.connect(**args)


def one(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        r = cur.fetchall()
    if len(r) != 1 or len(r[0]) != 1:
        raise AssertionError("%s: want one value, got %r" % (sql, r))
    return r[0][0]


def main():
    # autocommit=None: PyMySQL sends nothing and reads the mode from the
    # server status flags (greeting, then every OK packet).
    try:
        c0 = connect(autocommit=None)
        ok("connect")
    except Exception as e:
        fail("connect", e)
        return
    with step("greeting"):
        check("greeting.autocommit_flag", c0.get_autocommit(), True)
        check("greeting.select_autocommit", one(c0, "SELECT @@autocommit"), 1)
        check("greeting.autocommit_flag_after_query", c0.get_autocommit(), True)
        check("greeting.in_transaction", bool(c0.server_status & 1), False)
        c0.begin()
        check("greeting.in_transaction_after_begin", bool(c0.server_status & 1), True)
        c0.rollback()
        check("greeting.in_transaction_after_rollback", bool(c0.server_status & 1), False)
    c0.close()

    # The default: autocommit=False (PyMySQL turns it off at connect).
    conn = connect()
    with step("autocommit_off"):
        check("autocommit_off.flag", conn.get_autocommit(), False)
        check("autocommit_off.select", one(conn, "SELECT @@autocommit"), 0)
        conn.autocommit(True)
        check("autocommit_on.flag", conn.get_autocommit(), True)
        check("autocommit_on.select", one(conn, "SELECT @@autocommit"), 1)

    with step("version"):
        with conn.cursor() as cur:
            cur.execute("SELECT @@version, DATABASE()")
            r = cur.fetchall()
        check("version.rows", len(r), 1)
        version, db = r[0]
        check("version.database", db, "customer")
        check("version.mariadb", "MariaDB" in version, True)
        greeting = conn.get_server_info()
        if greeting.startswith("5.5.5-"):
            greeting = greeting[len("5.5.5-"):]
        check("version.major_minor_as_greeting", version.split(".")[:2], greeting.split(".")[:2])
        check("version.charset", conn.character_set_name(), "utf8mb4")
        check("version.character_set_client", one(conn, "SELECT @@character_set_client"), "utf8mb4")
        check("version.ping", conn.ping(reconnect=False), None)

    with step("ddl"):
        with conn.cursor() as cur:
            for t in (T_TYPES, T_MANY, T_TX, T_AUTO, T_WARN):
                cur.execute("DROP TABLE IF EXISTS " + t)
            cur.execute("CREATE TABLE " + T_TYPES + " (id BIGINT NOT NULL PRIMARY KEY, ti TINYINT, iu INT UNSIGNED, b BIGINT,"
                        " bu BIGINT UNSIGNED, dec1 DECIMAL(20,6), f FLOAT, dbl DOUBLE, d DATE, dt DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL,"
                        " tm TIME(6), vc VARCHAR(100), tx TEXT, bl BLOB, bn BINARY(4), js JSON, n INT NULL) DEFAULT CHARSET=utf8mb4")
            cur.execute("CREATE TABLE " + T_MANY + " (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(20), n INT NOT NULL) DEFAULT CHARSET=utf8mb4")
            cur.execute("CREATE TABLE " + T_TX + " (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(20)) DEFAULT CHARSET=utf8mb4")
            cur.execute("CREATE TABLE " + T_AUTO + " (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20)) DEFAULT CHARSET=utf8mb4")
            cur.execute("CREATE TABLE " + T_WARN + " (id BIGINT NOT NULL PRIMARY KEY, s VARCHAR(3)) DEFAULT CHARSET=utf8mb4")
        ok("ddl")

    full = (
        idA, -128, 4294967295, -9223372036854775808, 18446744073709551615, decimal.Decimal("-12345678901234.123456"),
        1.5, 3.141592653589793, datetime.date(2024, 2, 29), datetime.datetime(2024, 2, 29, 13, 14, 15, 123456),
        datetime.datetime(2023, 7, 1, 1, 2, 3, 654321), datetime.timedelta(hours=25, minutes=1, seconds=2, microseconds=345678),
        "héllo 😀 'q' \"dq\" \\ back", "абв😀xyz " * 1000, bytes([0, 1, 2, 0xff, 0x80, 0x27, 0x5c, 0x22, 0x0a, 0x0d, 0x1a]),
        bytes([0, 0xfe, 0x41, 0]), '{"a": 1, "b": [true, null, "x😀"]}', None,
    )
    names = ("id", "ti", "iu", "b", "bu", "dec1", "f", "dbl", "d", "dt", "ts", "tm", "vc", "tx", "bl", "bn", "js", "n")
    with step("types.insert"):
        with conn.cursor() as cur:
            sql = "INSERT INTO %s (%s) VALUES (%s)" % (T_TYPES, ", ".join(names), ", ".join(["%s"] * len(names)))
            check("types.insert.rowcount", cur.execute(sql, full), 1)
            check("types.insert_null.rowcount", cur.execute(sql, (idB,) + (None,) * (len(names) - 1)), 1)

    with step("types.fetchall"):
        with conn.cursor() as cur:
            check("types.fetchall.execute", cur.execute("SELECT %s FROM %s WHERE id IN (%%s, %%s) ORDER BY id = %%s DESC" % (", ".join(names), T_TYPES), (idA, idB, idA)), 2)
            rows = cur.fetchall()
        check("types.fetchall.rows", len(rows), 2)
        if len(rows) == 2:
            for name, got, want in zip(names, rows[0], full):
                check("types.fetchall." + name, got, want)
            check("types.fetchall.null_row", rows[1], (idB,) + (None,) * (len(names) - 1))
        with conn.cursor() as cur:
            cur.execute("SELECT HEX(vc), HEX(bl), CAST(dt AS CHAR), CAST(tm AS CHAR) FROM " + T_TYPES + " WHERE id = %s", (idA,))
            r = cur.fetchone()
        check("types.server.varchar_hex", r[0], full[12].encode("utf-8").hex().upper())
        check("types.server.blob_hex", r[1], full[14].hex().upper())
        check("types.server.datetime6", r[2], "2024-02-29 13:14:15.123456")
        check("types.server.time6", r[3], "25:01:02.345678")

    with step("types.dict_cursor"):
        with conn.cursor(pymysql.cursors.DictCursor) as cur:
            cur.execute("SELECT id, vc AS label, n FROM " + T_TYPES + " WHERE id = %s", (idA,))
            check("types.dict_cursor.row", cur.fetchall(), [{"id": idA, "label": full[12], "n": None}])
            check("types.dict_cursor.description", [d[0] for d in cur.description], ["id", "label", "n"])

    with step("executemany"):
        with conn.cursor() as cur:
            data = [(i, "v%d😀" % i, i * 10) for i in range(1, 51)]
            check("executemany.insert.rowcount", cur.executemany("INSERT INTO " + T_MANY + " (id, v, n) VALUES (%s, %s, %s)", data), 50)
            cur.execute("SELECT COUNT(*), SUM(id), SUM(n) FROM " + T_MANY)
            check("executemany.insert.rows", tuple(int(x) for x in cur.fetchone()), (50, 1275, 12750))
            check("executemany.insert.value", one(conn, "SELECT v FROM " + T_MANY + " WHERE id = 7"), "v7😀")
            check("executemany.update.rowcount", cur.executemany("UPDATE " + T_MANY + " SET n = n + %s WHERE id = %s", [(1, i) for i in range(1, 21)]), 20)
            check("executemany.update.sum", int(one(conn, "SELECT SUM(n) FROM " + T_MANY)), 12770)
            check("executemany.delete.rowcount", cur.executemany("DELETE FROM " + T_MANY + " WHERE id = %s", [(1,), (2,), (999999,)]), 2)
            check("executemany.delete.rows", one(conn, "SELECT COUNT(*) FROM " + T_MANY), 48)

    with step("affected"):
        with conn.cursor() as cur:
            check("affected.update_two_shards", cur.execute("UPDATE " + T_TYPES + " SET n = 5 WHERE id IN (%s, %s)", (idA, idB)), 2)
            check("affected.rowcount", cur.rowcount, 2)
            check("affected.update_unchanged", cur.execute("UPDATE " + T_TYPES + " SET n = 5 WHERE id IN (%s, %s)", (idA, idB)), 0)
            check("affected.update_range", cur.execute("UPDATE " + T_MANY + " SET v = 'r' WHERE id BETWEEN 10 AND 19"), 10)
            check("affected.delete_none", cur.execute("DELETE FROM " + T_MANY + " WHERE id = 123456"), 0)

    with step("lastrowid"):
        with conn.cursor() as cur:
            ids = []
            for i in range(3):
                cur.execute("INSERT INTO " + T_AUTO + " (v) VALUES (%s)", ("a%d" % i,))
                ids.append(cur.lastrowid)
                check("lastrowid.positive.%d" % i, cur.lastrowid > 0, True)
                check("lastrowid.insert_id.%d" % i, conn.insert_id(), cur.lastrowid)
                check("lastrowid.row.%d" % i, one(conn, "SELECT v FROM " + T_AUTO + " WHERE id = %s", (cur.lastrowid,)), "a%d" % i)
                check("lastrowid.last_insert_id.%d" % i, one(conn, "SELECT LAST_INSERT_ID()"), cur.lastrowid)
            check("lastrowid.distinct", len(set(ids)), 3)
            check("lastrowid.explicit_id.rowcount", cur.execute("INSERT INTO " + T_TX + " (id, v) VALUES (%s, 'x')", (idA,)), 1)
            check("lastrowid.explicit_id", cur.lastrowid, 0)
            cur.execute("DELETE FROM " + T_TX)

    with step("tx"):
        other = connect(autocommit=True)
        count = "SELECT COUNT(*) FROM %s WHERE id IN (%d, %d)" % (T_TX, idA, idB)
        conn.begin()
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO " + T_TX + " (id, v) VALUES (%s, %s)", [(idA, "a"), (idB, "b")])
        check("tx.own_rows", one(conn, count), 2)
        check("tx.uncommitted_invisible", one(other, count), 0)
        conn.rollback()
        check("tx.rollback", one(other, count), 0)
        check("tx.rollback_own", one(conn, count), 0)
        conn.begin()
        with conn.cursor() as cur:
            cur.execute("INSERT INTO " + T_TX + " (id, v) VALUES (%s, 'a2')", (idA,))
            cur.execute("INSERT INTO " + T_TX + " (id, v) VALUES (%s, 'b2')", (idB,))
        conn.commit()
        with other.cursor() as cur:
            cur.execute("SELECT v FROM " + T_TX + " ORDER BY v")
            check("tx.commit", cur.fetchall(), (("a2",), ("b2",)))
        # autocommit off: statements open a transaction that commit() ends.
        conn.autocommit(False)
        with conn.cursor() as cur:
            cur.execute("UPDATE " + T_TX + " SET v = 'a3' WHERE id = %s", (idA,))
            cur.execute("UPDATE " + T_TX + " SET v = 'b3' WHERE id = %s", (idB,))
        check("tx.autocommit_off.in_transaction", bool(conn.server_status & 1), True)
        check("tx.autocommit_off.invisible", one(other, "SELECT v FROM " + T_TX + " WHERE id = %s", (idA,)), "a2")
        conn.commit()
        check("tx.autocommit_off.committed_a", one(other, "SELECT v FROM " + T_TX + " WHERE id = %s", (idA,)), "a3")
        check("tx.autocommit_off.committed_b", one(other, "SELECT v FROM " + T_TX + " WHERE id = %s", (idB,)), "b3")
        conn.autocommit(True)
        other.close()

    with step("warnings"):
        with conn.cursor() as cur:
            cur.execute("SET sql_mode = ''")
            check("warnings.insert.rowcount", cur.execute("INSERT INTO " + T_WARN + " (id, s) VALUES (%s, %s)", (idA, "abcdef")), 1)
            check("warnings.warning_count", cur._result.warning_count, 1)
            cur.execute("SHOW WARNINGS")
            check("warnings.show_warnings", cur.fetchall(), (("Warning", 1265, "Data truncated for column 's' at row 1"),))
            cur.execute("SELECT COUNT(*) FROM information_schema.COLLATIONS WHERE 0")  # a statement without warnings clears them
            cur.execute("SHOW WARNINGS")
            check("warnings.cleared", cur.fetchall(), ())
            check("warnings.stored", one(conn, "SELECT s FROM " + T_WARN + " WHERE id = %s", (idA,)), "abc")
            check("warnings.insert_other_shard", cur.execute("INSERT INTO " + T_WARN + " (id, s) VALUES (%s, %s)", (idB, "xyzw")), 1)
            check("warnings.warning_count_other_shard", cur._result.warning_count, 1)
            check("warnings.show_count", one(conn, "SHOW COUNT(*) WARNINGS"), 1)
            cur.execute("SET sql_mode = DEFAULT")

    with step("errors"):
        with conn.cursor() as cur:
            try:
                cur.execute("INSERT INTO " + T_TX + " (id, v) VALUES (%s, 'dup')", (idA,))
                fail("errors.duplicate", "no error")
            except pymysql.err.IntegrityError as e:
                check("errors.duplicate.code", e.args[0], 1062)
            try:
                cur.execute("SELECT * FROM no_such_table_%s" % sfx)
                fail("errors.unknown_table", "no error")
            except pymysql.err.ProgrammingError as e:
                check("errors.unknown_table.code", e.args[0], 1146)
            check("errors.usable_after", one(conn, "SELECT 1 + 1"), 2)

    with step("sscursor"):
        with conn.cursor(pymysql.cursors.SSCursor) as cur:
            cur.execute("SELECT id FROM " + T_MANY + " ORDER BY id")
            got = [r[0] for r in cur]
        check("sscursor.ordered", got, list(range(3, 51)))
        check("sscursor.after", one(conn, "SELECT COUNT(*) FROM " + T_MANY), 48)

    with step("select_db"):
        conn.select_db("commerce")
        check("select_db.commerce", one(conn, "SELECT DATABASE()"), "commerce")
        conn.select_db("customer")
        check("select_db.customer", one(conn, "SELECT DATABASE()"), "customer")

    with step("multi_statements"):
        mc = connect(autocommit=True, client_flag=CLIENT.MULTI_STATEMENTS)
        with mc.cursor() as cur:
            cur.execute("SELECT 1; SELECT id FROM %s WHERE id IN (3, 4) ORDER BY id; UPDATE %s SET n = 0 WHERE id = 3" % (T_MANY, T_MANY))
            check("multi_statements.first", cur.fetchall(), ((1,),))
            check("multi_statements.nextset1", cur.nextset(), True)
            check("multi_statements.second", cur.fetchall(), ((3,), (4,)))
            check("multi_statements.nextset2", cur.nextset(), True)
            check("multi_statements.third_rowcount", cur.rowcount, 1)
            check("multi_statements.no_more", cur.nextset(), None)
        check("multi_statements.usable_after", one(mc, "SELECT n FROM " + T_MANY + " WHERE id = 3"), 0)
        mc.close()

    conn.close()


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        fail("unexpected", "%s: %s" % (type(e).__name__, traceback.format_exc()))
    sys.exit(1 if failures else 0)
