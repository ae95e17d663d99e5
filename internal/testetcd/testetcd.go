// Package testetcd runs an embedded one-member etcd for tests and
// benchmarks: on free loopback ports, its data in a folder of the caller's.
// It is apart from testenv so that only the programs that need etcd's
// server link it.
package testetcd

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// Server is an embedded etcd. Stop and Start may be called from any
// goroutine (a test of etcd going away and coming back).
type Server struct {
	dir          string
	client, peer url.URL

	mu     sync.Mutex
	e      *embed.Etcd // nil while stopped
	starts int
}

// Start starts an etcd whose data lives in dir/etcd and whose log is
// dir/etcd.log.
func Start(dir string) (*Server, error) {
	s := &Server{dir: filepath.Join(dir, "etcd")}
	var err error
	for try := 0; try < 20; try++ { // a free port may be taken by someone else before etcd binds it
		if s.client, err = freeURL(); err != nil {
			return nil, err
		}
		if s.peer, err = freeURL(); err != nil {
			return nil, err
		}
		if err = s.run(1); err == nil {
			return s, nil
		}
	}
	return nil, err
}

// ForTest starts an etcd in a temporary folder of tb; it stops when the
// test ends.
func ForTest(tb testing.TB) *Server {
	tb.Helper()
	s, err := Start(tb.TempDir())
	if err != nil {
		tb.Fatalf("embedded etcd: %v", err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// Endpoint is the client address, host:port.
func (s *Server) Endpoint() string { return s.client.Host }

// Restart starts a stopped server again, on the same ports and data (it
// does nothing while it runs).
func (s *Server) Restart() error {
	return s.run(50) // the port may take a moment to be free after a stop
}

func (s *Server) run(tries int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.e != nil {
		return nil
	}
	cfg := embed.NewConfig()
	cfg.Name = "test"
	cfg.Dir = s.dir
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{s.client}, []url.URL{s.client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{s.peer}, []url.URL{s.peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{filepath.Join(filepath.Dir(s.dir), "etcd.log")}
	var e *embed.Etcd
	var err error
	for try := 0; try < tries; try++ {
		if e, err = embed.StartEtcd(cfg); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		e.Close()
		return fmt.Errorf("embedded etcd did not become ready within 30s")
	}
	s.e = e
	s.starts++
	return nil
}

// Stop stops the server (it does nothing when stopped).
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.e != nil {
		s.e.Close()
		s.e = nil
	}
}

// Starts counts the times it started.
func (s *Server) Starts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.starts
}

func freeURL() (url.URL, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return url.URL{}, err
	}
	defer l.Close()
	return url.URL{Scheme: "http", Host: l.Addr().String()}, nil
}
