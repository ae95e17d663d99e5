package admin

import (
	"context"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/ha"
)

// HA is what the HTTP side reads from and asks of the HA layer
// (*ha.Manager implements it).
type HA interface {
	Shards() []ha.ShardStatus
	Recoveries(ctx context.Context) ([]ha.Recovery, error)
	Reparent(ctx context.Context, keyspace, shard, newPrimary string) (*ha.Recovery, error)
}

// SetHA installs the HA layer behind /api/shards, /api/recoveries and
// /api/reparent; call it before serving.
func (a *Server) SetHA(h HA) { a.ha = h }

func (a *Server) haHandlers(mux *http.ServeMux) {
	mux.HandleFunc("/api/shards", a.apiShards)
	mux.HandleFunc("/api/recoveries", a.apiRecoveries)
	mux.HandleFunc("/api/reparent", a.apiReparent)
}

func (a *Server) apiShards(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		httpError(w, http.StatusMethodNotAllowed, "GET only")
		return
	}
	if a.ha == nil {
		writeJSON(w, []ha.ShardStatus{})
		return
	}
	writeJSON(w, a.ha.Shards())
}

func (a *Server) apiRecoveries(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		httpError(w, http.StatusMethodNotAllowed, "GET only")
		return
	}
	if a.ha == nil {
		writeJSON(w, []ha.Recovery{})
		return
	}
	recs, err := a.ha.Recoveries(r.Context())
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if recs == nil {
		recs = []ha.Recovery{}
	}
	writeJSON(w, recs)
}

// ReparentRequest is the body of POST /api/reparent.
type ReparentRequest struct {
	Keyspace   string `json:"keyspace"`
	Shard      string `json:"shard"`
	NewPrimary string `json:"new_primary,omitempty"` // "" = the most up-to-date healthy replica
}

func (a *Server) apiReparent(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpError(w, http.StatusMethodNotAllowed, "POST a JSON body {\"keyspace\": …, \"shard\": …, \"new_primary\": \"host:port\" (optional)}")
		return
	}
	user, ok := a.adminUser(w, r)
	if !ok {
		return
	}
	var req ReparentRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
		httpError(w, http.StatusBadRequest, "bad JSON body: "+err.Error())
		return
	}
	if req.Keyspace == "" || req.Shard == "" {
		httpError(w, http.StatusBadRequest, "keyspace and shard are required")
		return
	}
	if a.ha == nil {
		httpError(w, http.StatusNotFound, "this proxy runs no HA layer")
		return
	}
	a.log.Info("reparent requested", zap.String("user", user), zap.String("remote", r.RemoteAddr),
		zap.String("shard", req.Keyspace+"/"+req.Shard), zap.String("new_primary", req.NewPrimary))
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Minute)
	defer cancel()
	rec, err := a.ha.Reparent(ctx, req.Keyspace, req.Shard, req.NewPrimary)
	switch {
	case errors.Is(err, ha.ErrUnknownShard):
		httpError(w, http.StatusNotFound, fmt.Sprintf("shard %s/%s: %v", req.Keyspace, req.Shard, err))
	case err != nil && rec == nil:
		httpError(w, http.StatusConflict, err.Error())
	case err != nil:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_ = json.NewEncoder(w).Encode(rec)
	default:
		writeJSON(w, rec)
	}
}

// authFailures counts failed admin logins per source address: after
// maxAuthFailures within authWindow the address is refused until the window
// has passed since its last failure (as login_rate_limit does for MySQL).
type authFailures struct {
	mu sync.Mutex
	m  map[string]*authFailure
}

type authFailure struct {
	n    int
	last time.Time
}

const (
	maxAuthFailures = 10
	authWindow      = time.Minute
)

func (f *authFailures) blocked(host string, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.m[host]
	if e == nil {
		return false
	}
	if now.Sub(e.last) > authWindow {
		delete(f.m, host)
		return false
	}
	return e.n >= maxAuthFailures
}

func (f *authFailures) fail(host string, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]*authFailure{}
	}
	if len(f.m) > 10000 { // bounded: forget the oldest window
		for h, e := range f.m {
			if now.Sub(e.last) > authWindow {
				delete(f.m, h)
			}
		}
	}
	e := f.m[host]
	if e == nil || now.Sub(e.last) > authWindow {
		e = &authFailure{}
		f.m[host] = e
	}
	e.n++
	e.last = now
}

func findUser(users []config.User, name string) *config.User {
	for i := range users {
		if users[i].Name == name {
			return &users[i]
		}
	}
	return nil
}

// dummyHash is compared against for unknown users, so that the answer's
// time does not tell which names exist.
var dummyHash = func() []byte { h := sha1.Sum([]byte("shardgate-no-such-user")); return h[:] }()

func checkPassword(u *config.User, pw string) bool {
	h1 := sha1.Sum([]byte(pw))
	h2 := sha1.Sum(h1[:])
	want := dummyHash
	if u != nil && u.NativeHash != nil {
		want = u.NativeHash
	}
	eq := subtle.ConstantTimeCompare(h2[:], want) == 1
	if u == nil {
		return false
	}
	if u.NativeHash == nil { // an account without password
		return pw == ""
	}
	return eq
}

func loopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
