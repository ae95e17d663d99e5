package proxy

import (
	"net"
	"sync"
	"time"
)

// loginLimiter counts failed logins per source address: after max failures
// within window the address is refused until window has passed since its
// last failure (login_rate_limit). A successful login does not reset the
// count, so one valid account cannot be used to keep guessing another's
// password.
type loginLimiter struct {
	mu    sync.Mutex
	addrs map[string]*failures
}

type failures struct {
	n           int
	first, last time.Time
}

// maxTracked bounds the table; expired entries go first when it is full.
const maxTracked = 100000

func newLoginLimiter() *loginLimiter { return &loginLimiter{addrs: map[string]*failures{}} }

// blocked reports whether host may not try to log in now, and until when.
func (l *loginLimiter) blocked(host string, max int, window time.Duration, now time.Time) (bool, time.Time) {
	if max <= 0 {
		return false, time.Time{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.addrs[host]
	if f == nil || f.n < max {
		return false, time.Time{}
	}
	until := f.last.Add(window)
	if now.Before(until) {
		return true, until
	}
	delete(l.addrs, host)
	return false, time.Time{}
}

// fail records a failed login of host.
func (l *loginLimiter) fail(host string, max int, window time.Duration, now time.Time) {
	if max <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.addrs[host]
	if f == nil || (f.n < max && now.Sub(f.first) > window) {
		if f == nil && len(l.addrs) >= maxTracked {
			l.prune(window, now)
		}
		f = &failures{first: now}
		l.addrs[host] = f
	}
	f.n++
	f.last = now
}

func (l *loginLimiter) prune(window time.Duration, now time.Time) {
	for h, f := range l.addrs {
		if now.Sub(f.last) > window {
			delete(l.addrs, h)
		}
	}
	if len(l.addrs) >= maxTracked { // still full: forget the oldest half's worth at random
		n := 0
		for h := range l.addrs {
			delete(l.addrs, h)
			if n++; n >= maxTracked/2 {
				break
			}
		}
	}
}

// hostOf is the address part of a remote address ("10.0.0.7" of
// "10.0.0.7:53122").
func hostOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}
