// Package planner turns one parsed statement into a Plan: the keyspaces and
// shards it reaches (vindexes over WHERE equalities and IN lists, pinned
// subqueries and derived tables), what the proxy must do with the shards'
// results (merge, sort, aggregate, join, union), and the SQL each shard runs.
// It knows the world only through Env (topology, session keyspace, limits,
// policy, table columns) and does no I/O of its own, so every plan can be
// checked from text (router/testdata/plans). Before planning, the policy
// (package policy) refuses what no client may do on a shard.
package planner
