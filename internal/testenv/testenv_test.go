package testenv_test

import (
	"context"
	"os"
	"testing"

	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/internal/testenv"
)

var shared []*mariadbd.Server

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, 2, &shared)) }

func TestMainCluster(t *testing.T) {
	testenv.RequireMariaDB(t)
	if len(shared) != 2 {
		t.Fatalf("TestMain cluster has %d servers", len(shared))
	}
	for _, s := range shared {
		if err := s.Exec(context.Background(), "SELECT 1"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCluster(t *testing.T) {
	var servers []*mariadbd.Server
	t.Run("inner", func(t *testing.T) {
		servers = testenv.Cluster(t, 1)
		if err := servers[0].Exec(context.Background(), "CREATE DATABASE d"); err != nil {
			t.Fatal(err)
		}
	})
	if t.Skipped() || len(servers) == 0 {
		return
	}
	if servers[0].Running() {
		t.Fatal("server still running after its test's cleanup")
	}
	if _, err := os.Stat(servers[0].Dir); !os.IsNotExist(err) {
		t.Fatalf("folder %s not removed: %v", servers[0].Dir, err)
	}
}
