// Package engine runs plans: each primitive (a Route to the shards that
// hold the rows, a SelectMerge that merges, sorts, aggregates and limits
// their results at the proxy, a Join, a Union, an Insert that splits rows
// by shard and fills ids from sequences, a DDL) is one file, and its
// Describe is what VEXPLAIN PLAN prints. Primitives reach the session, the
// shards and the client only through a VCursor, so each can be tested with
// rows held in memory. There is one execution path: rows stream from the
// shard connections' buffers through pull iterators (Stream) to the client,
// relayed as bytes wherever the proxy need not look inside.
package engine
