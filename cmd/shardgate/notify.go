package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"go.uber.org/zap"

	"github.com/shardgate/shardgate/config"
)

// sdNotify sends a state line to systemd when run with Type=notify
// (NOTIFY_SOCKET set); otherwise it does nothing.
func sdNotify(state string) {
	_, _ = daemon.SdNotify(false, state)
}

// startWatchdog pings systemd's watchdog (WatchdogSec= in the unit) at half
// its interval until ctx ends or the returned function is called. A ping
// is sent only when the HTTP side and the Go scheduler are alive enough to
// run it; a process that hangs is killed and restarted by systemd.
func startWatchdog(ctx context.Context, log *zap.Logger) func() {
	every, err := daemon.SdWatchdogEnabled(false)
	if err != nil || every <= 0 {
		return func() {}
	}
	log.Info("systemd watchdog enabled", zap.Duration("interval", every))
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				sdNotify(daemon.SdNotifyWatchdog)
			}
		}
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}

// listenHTTP listens on addr, with TLS when c (listen.http_tls) is set. The
// certificate is read again when its files change, so renewing it needs no
// restart.
func listenHTTP(addr string, c *config.TLSConfig) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil || c == nil {
		return ln, err
	}
	kp := &keyPair{cert: c.Cert, key: c.Key}
	if _, err := kp.get(nil); err != nil {
		ln.Close()
		return nil, err
	}
	return tls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: kp.get}), nil
}

// keyPair loads a certificate and key, again when either file changed.
type keyPair struct {
	cert, key string
	mu        sync.Mutex
	mod       time.Time
	pair      *tls.Certificate
}

func (k *keyPair) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var mod time.Time
	for _, f := range []string{k.cert, k.key} {
		if st, err := os.Stat(f); err == nil && st.ModTime().After(mod) {
			mod = st.ModTime()
		}
	}
	if k.pair != nil && !mod.After(k.mod) {
		return k.pair, nil
	}
	p, err := tls.LoadX509KeyPair(k.cert, k.key)
	if err != nil {
		if k.pair != nil {
			return k.pair, nil // keep the last good one while files are being replaced
		}
		return nil, fmt.Errorf("listen.http_tls: %w", err)
	}
	k.pair, k.mod = &p, mod
	return k.pair, nil
}
