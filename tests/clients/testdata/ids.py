#!/usr/bin/python3
"""PyMySQL's view of insert ids (issue 26). Run by insertid_test.go:

    /usr/bin/python3 ids.py <host> <port> <table> < steps

Each line of stdin is a step: mode, SQL and arguments separated by tabs.
Modes: "exec" (cursor.execute without arguments), "prep" (cursor.execute
with the arguments, '?' in the SQL becoming PyMySQL's %s; "NULL" is None, a
number an int) and "query". It prints what the driver reports:

    obs <step> keys <lastrowid>    cursor.lastrowid after exec/prep
    obs <step> rows <v1,v2,...>    the first column of a query's rows
    obs <step> err <code>          the MySQL error number
    obs <step> lid <id>            SELECT LAST_INSERT_ID() afterwards
    row <id> <v>                   SELECT id, v FROM <table> at the end

The Go test runs it against the proxy and a plain MariaDB and compares.
"""

import re
import sys

import pymysql


def arg(a):
    if a == "NULL":
        return None
    if re.fullmatch(r"-?[0-9]+", a):
        return int(a)
    return a


def main():
    host, port, table = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    conn = pymysql.connect(host=host, port=port, user="app", password="secret", database="customer", autocommit=True)
    cur = conn.cursor()
    step = 0
    for line in sys.stdin.read().split("\n"):
        if not line:
            continue
        step += 1
        f = line.split("\t")
        mode, sql = f[0], f[1]
        try:
            if mode == "exec":
                cur.execute(sql)
                print("obs %d keys %d" % (step, cur.lastrowid))
            elif mode == "prep":
                cur.execute(sql.replace("?", "%s"), [arg(a) for a in f[2:]])
                print("obs %d keys %d" % (step, cur.lastrowid))
            elif mode == "query":
                cur.execute(sql)
                print("obs %d rows %s" % (step, ",".join(str(r[0]) for r in cur.fetchall())))
            else:
                raise ValueError("unknown mode " + mode)
        except pymysql.MySQLError as e:
            print("obs %d err %d" % (step, e.args[0]))
        cur.execute("SELECT LAST_INSERT_ID()")
        print("obs %d lid %d" % (step, cur.fetchone()[0]))
    cur.execute("SELECT id, v FROM " + table)
    for r in cur.fetchall():
        print("row %d %s" % (r[0], r[1]))
    conn.close()


main()
