#!/usr/bin/env sysbench
-- bench/scatter.lua: the scatter case of `make bench` (issue 4). Each event runs one of two
-- queries that no sharding key routes, alternately:
--
--   SELECT id, k FROM sbtest1 ORDER BY k LIMIT 10                 (merge-sort of the shards' streams, LIMIT)
--   SELECT k % 10, COUNT(*), SUM(id) FROM sbtest1 GROUP BY k % 10   (aggregate of the whole table)
--
-- Through shardgate both go to every shard and are merged at the proxy; direct, one mariadbd
-- answers them. The table is the one `sysbench oltp_read_write prepare` makes (sbtest1).
-- Statements are prepared with con:prepare, so --db-ps-mode=auto uses server-side prepared
-- statements and --db-ps-mode=disable sends them as text, as in sysbench's own OLTP tests.
--
--   sysbench bench/scatter.lua --db-driver=mysql --mysql-db=... --threads=8 --time=30 run

-- The same options as sysbench's OLTP tests take, so the harness passes one command line to
-- every test; they do not change the queries.
sysbench.cmdline.options = {
   tables = {"Number of tables (only sbtest1 is read)", 1},
   table_size = {"Number of rows per table (not used)", 10000},
}

local queries = {
   "SELECT id, k FROM sbtest1 ORDER BY k LIMIT 10",
   "SELECT k % 10, COUNT(*), SUM(id) FROM sbtest1 GROUP BY k % 10",
}

function thread_init()
   drv = sysbench.sql.driver()
   con = drv:connect()
   stmts = {}
   for i, q in ipairs(queries) do
      stmts[i] = con:prepare(q)
   end
   -- threads start on different queries, so both run at any time
   n = sysbench.tid % #queries
end

function thread_done()
   for _, s in ipairs(stmts) do
      s:close()
   end
   con:disconnect()
end

function event()
   n = n % #queries + 1
   stmts[n]:execute()
end
