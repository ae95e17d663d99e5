// The shardgate proxies the bench runs (etcd is internal/testetcd).

package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// proxyProc is a shardgate serve process.
type proxyProc struct {
	n     int
	mysql string
	http  string
	cmd   *exec.Cmd
	done  chan struct{}
	logf  string
}

func (b *bench) startProxy(ctx context.Context, n int) (*proxyProc, error) {
	p := &proxyProc{n: n, mysql: fmt.Sprintf("127.0.0.1:%d", freePort()), http: fmt.Sprintf("127.0.0.1:%d", freePort())}
	cfg := fmt.Sprintf(`listen: {mysql: %q, http: %q}
users:
  - {name: app, password: secret}
  - {name: ops, password: ops, admin: true}
default_keyspace: customer
global_keyspace: commerce
topology:
  source: etcd
  etcd: {endpoints: [%s], prefix: %s, dial_timeout: 2s}
pool: {size: 32}
workflow: {copy_throttle: %g, copy_chunk_rows: %d}
`, p.mysql, p.http, b.etcd, b.prefix, b.o.throttle, b.o.chunk)
	path := filepath.Join(b.dir, fmt.Sprintf("proxy%d.yaml", n))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	p.logf = filepath.Join(b.dir, fmt.Sprintf("proxy%d.log", n))
	f, err := os.Create(p.logf)
	if err != nil {
		return nil, err
	}
	p.cmd = exec.Command(b.o.shardgate, "serve", "--config", path)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	p.done = make(chan struct{})
	go func() { // owned by p: ends with the process, which stop ends
		_ = p.cmd.Wait()
		f.Close()
		close(p.done)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", p.mysql, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return p, nil
		}
		select {
		case <-p.done:
			data, _ := os.ReadFile(p.logf)
			return nil, fmt.Errorf("proxy %d exited at start:\n%s", n, data)
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("proxy %d does not listen on %s", n, p.mysql)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *proxyProc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ---- the workload ----
