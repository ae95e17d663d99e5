package backend

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/shardgate/shardgate/topo"
)

// killGrace is how long a connection waits for the shard's answer after
// KILL QUERY (the interrupted statement's error).
const killGrace = 5 * time.Second

// probeAge: a read whose deadline passed longer ago than this is a probe,
// not a statement that ran out of time.
const probeAge = 500 * time.Millisecond

// killConn is a shard socket that turns a statement timeout into KILL QUERY.
//
// The proxy bounds a statement by its context's deadline, which becomes the
// socket deadline (Conn.setDeadline). When a read of a statement's response
// reaches that deadline, the statement is still running on the shard:
// killConn sends KILL QUERY <thread id> over a separate connection and goes
// on reading, so the shard answers with its own "Query execution was
// interrupted" error (1317), which reaches the client, and the connection
// stays in protocol sync and reusable. The kill comes from the goroutine that
// is blocked on this very connection, so it can never hit a thread that
// another session uses by then.
type killConn struct {
	net.Conn
	tid  uint32                 // shard thread id; 0 until the handshake is done
	kill func(tid uint32) error // runs KILL QUERY tid on another connection
	// rd is the read deadline last set (unix nanoseconds, 0 = none). Another
	// goroutine sets it to interrupt a statement (KILL QUERY), so atomic.
	rd   atomic.Int64
	done time.Time // deadline a kill was already sent for
	// changes counts deadline changes from any goroutine, so Conn.setDeadline
	// can skip setting the deadline it set last when nobody touched it since
	// (a SetDeadline is a runtime timer update per command).
	changes atomic.Uint64

	// raw, peek and peeked serve peekAlive without allocating per call.
	raw    syscall.RawConn
	peek   func(fd uintptr) bool
	peeked int // 1 alive, 0 closed or unexpected data
	peekB  [1]byte
}

// peekAlive looks at an idle socket without consuming anything: alive when
// the read would block; closed (EOF, reset) or holding unexpected data
// otherwise. checked is false when the socket offers no raw access.
func (k *killConn) peekAlive() (alive, checked bool) {
	if k.raw == nil {
		sc, ok := k.Conn.(syscall.Conn)
		if !ok {
			return false, false
		}
		raw, err := sc.SyscallConn()
		if err != nil {
			return false, false
		}
		k.raw = raw
		k.peek = func(fd uintptr) bool {
			// recv(fd, b, 1, MSG_PEEK|MSG_DONTWAIT), without the allocation of
			// syscall.Recvfrom's address.
			n, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&k.peekB[0])), 1,
				syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
			switch {
			case errno == syscall.EAGAIN || errno == syscall.EWOULDBLOCK || errno == syscall.EINTR:
				k.peeked = 1 // nothing to read: the connection is idle and open
			default: // data, EOF (n == 0) or an error
				_ = n
				k.peeked = 0
			}
			return true
		}
	}
	if err := k.raw.Read(k.peek); err != nil {
		return false, true
	}
	return k.peeked == 1, true
}

func (k *killConn) SetDeadline(t time.Time) error {
	k.rd.Store(unixNano(t))
	k.changes.Add(1)
	return k.Conn.SetDeadline(t)
}

func (k *killConn) SetReadDeadline(t time.Time) error {
	k.rd.Store(unixNano(t))
	k.changes.Add(1)
	return k.Conn.SetReadDeadline(t)
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// Read reads from the socket; see killConn. Liveness probes of idle pooled
// connections (Conn.alive: a tiny read, through TLS a normal one, with a
// deadline long past) time out as they should and kill nothing.
func (k *killConn) Read(p []byte) (int, error) {
	if start := k.rd.Load(); k.tid == 0 || k.kill == nil || len(p) < 4 || (start != 0 && time.Until(time.Unix(0, start)) < -probeAge) {
		return k.Conn.Read(p) // a liveness probe of an idle connection, or no kill possible
	}
	n, err := k.Conn.Read(p)
	if err == nil || n > 0 || !isTimeout(err) {
		return n, err
	}
	// The deadline is read after the wait: KILL QUERY from another session
	// sets one while this read blocks.
	rd := time.Unix(0, k.rd.Load())
	if k.rd.Load() == 0 || k.done.Equal(rd) {
		return n, err
	}
	k.done = rd
	if kerr := k.kill(k.tid); kerr != nil {
		return n, fmt.Errorf("%w (and KILL QUERY %d failed: %v)", err, k.tid, kerr)
	}
	k.changes.Add(1)
	_ = k.Conn.SetReadDeadline(time.Now().Add(killGrace))
	return k.Conn.Read(p)
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// killer returns a function that runs KILL QUERY on the server at addr with a
// connection of its own.
func killer(network, addr, user, password string, timeout time.Duration, tc *tls.Config) func(uint32) error {
	return func(tid uint32) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		d := &net.Dialer{Timeout: timeout}
		cc, err := client.ConnectWithDialer(ctx, network, addr, user, password, "", d.DialContext,
			func(c *client.Conn) error {
				c.SetAttributes(map[string]string{"program_name": "shardgate-kill"})
				if tc != nil {
					c.SetTLSConfig(tc)
				}
				return nil
			})
		if err != nil {
			return err
		}
		defer cc.Close()
		_ = cc.SetDeadline(time.Now().Add(timeout))
		_, err = cc.Execute(fmt.Sprintf("KILL QUERY %d", tid))
		return err
	}
}

// tlsConfig builds the TLS configuration towards a shard at addr (nil for
// plaintext).
func tlsConfig(bt *topo.BackendTLS, addr string) (*tls.Config, error) {
	if bt == nil {
		return nil, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host, InsecureSkipVerify: bt.SkipVerify}
	if bt.ServerName != "" {
		tc.ServerName = bt.ServerName
	}
	if bt.CA != "" {
		pem, err := os.ReadFile(bt.CA)
		if err != nil {
			return nil, fmt.Errorf("tls ca: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls ca %s: no PEM certificate in it", bt.CA)
		}
	}
	if bt.Cert != "" {
		cert, err := tls.LoadX509KeyPair(bt.Cert, bt.Key)
		if err != nil {
			return nil, fmt.Errorf("tls client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// ShardTracker is told about every backend connection a statement sends a
// command on (shard attribution for metrics and the slow-query log). Put it
// in the statement's context with WithShardTracker; it must be safe for
// concurrent use.
type ShardTracker interface {
	ShardUsed(c *Conn)
}

type trackerKey struct{}

// WithShardTracker returns ctx carrying t.
func WithShardTracker(ctx context.Context, t ShardTracker) context.Context {
	return context.WithValue(ctx, trackerKey{}, t)
}

func trackShard(ctx context.Context, c *Conn) {
	if t, ok := ctx.Value(trackerKey{}).(ShardTracker); ok {
		t.ShardUsed(c)
	}
}
