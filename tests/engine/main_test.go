// Package engine is the differential test of the scatter-gather query engine
// (issue 4): every SELECT of testdata/corpus.sql runs through a 2-shard and a
// 4-shard shardgate and against one plain MariaDB holding the same rows, and
// the results must agree; plus a 1M-row scatter that must not grow the
// proxy's heap. Run it with
//
//	go test ./tests/engine/ -count=1 -v 2>&1 | tail -60
//
// (one subtest per corpus entry: -run 'TestEngineCorpus/shards=4/text/order_by'
// narrows it). See testdata/corpus.sql for the corpus format.
package engine

import (
	"os"
	"testing"

	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/internal/testenv"
)

// servers: see the layout in cluster_test.go.
var servers []*mariadbd.Server

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, nServers, &servers)) }
