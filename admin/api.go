package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/shardgate/shardgate/console"
	"github.com/shardgate/shardgate/ha"
	"github.com/shardgate/shardgate/metrics"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/txn"
	"github.com/shardgate/shardgate/wire"
)

// The console's JSON: everything its pages show, read from what the other
// packages expose. GETs only read; every POST needs an admin login and the
// CSRF header (auth.go).

func (a *Server) consoleHandlers(mux *http.ServeMux) {
	mux.Handle("GET /{$}", console.Handler())
	mux.Handle("GET /console/", console.Handler())
	mux.HandleFunc("GET /api/info", a.apiInfo)
	mux.HandleFunc("GET /api/whoami", a.apiWhoami)
	mux.HandleFunc("GET /api/overview", a.apiOverview)
	mux.HandleFunc("GET /api/keyspaces", a.apiKeyspaces)
	mux.HandleFunc("GET /api/keyspaces/{name}", a.apiKeyspace)
	mux.HandleFunc("GET /api/sessions", a.apiSessions)
	mux.HandleFunc("POST /api/sessions/{id}/kill", a.apiKill)
	mux.HandleFunc("GET /api/transactions", a.apiTransactions)
	mux.HandleFunc("GET /api/top", a.apiTop)
	mux.HandleFunc("POST /api/top/reset", a.apiTopReset)
	mux.HandleFunc("POST /api/query", a.apiQuery)
}

// SetProxies installs how the console lists the proxies of the deployment
// (the live proxies registered in etcd); without it, only this one.
func (a *Server) SetProxies(f func(ctx context.Context) ([]topo.ProxyInfo, error)) { a.proxies = f }

// Info is GET /api/info: this proxy, and whether this listener takes
// actions.
type Info struct {
	Version  string    `json:"version"`
	Host     string    `json:"host"`
	MySQL    string    `json:"mysql"`
	Started  time.Time `json:"started"`
	Uptime   string    `json:"uptime"`
	Draining bool      `json:"draining"`
	// Actions: this listener serves what changes state (with an admin
	// login); false on listen.http when listen.admin is set.
	Actions bool `json:"actions"`
	// AdminListener is listen.admin, where actions are served when set.
	AdminListener string `json:"admin_listener,omitempty"`
	HA            bool   `json:"ha"`
	// Workflows: this proxy serves GET /api/workflows (resharding and
	// MoveTables workflows); the console's page lists them.
	Workflows bool `json:"workflows"`
}

func (a *Server) info(r *http.Request) Info {
	cfg := a.proxy.Config()
	host, _ := os.Hostname()
	return Info{Version: a.version, Host: host, MySQL: a.proxy.ListenAddr(), Started: a.started,
		Uptime: time.Since(a.started).Round(time.Second).String(), Draining: a.proxy.Draining(),
		Actions: !readOnlyListener(r), AdminListener: cfg.Listen.Admin, HA: a.ha != nil, Workflows: a.workflows != nil}
}

func (a *Server) apiInfo(w http.ResponseWriter, r *http.Request) { writeJSON(w, a.info(r)) }

// apiWhoami checks a login (the console's login form): the admin user's
// name, or 401.
func (a *Server) apiWhoami(w http.ResponseWriter, r *http.Request) {
	name, ok := a.adminUser(w, r)
	if ok {
		writeJSON(w, map[string]string{"user": name})
	}
}

// Overview is GET /api/overview.
type Overview struct {
	Time      int64             `json:"time_ms"` // unix milliseconds: the console computes rates between two
	Proxies   []topo.ProxyInfo  `json:"proxies"`
	Keyspaces []KeyspaceSummary `json:"keyspaces"`
	Totals    metrics.Count     `json:"totals"`
	Clients   int               `json:"client_connections"`
	Sessions  int               `json:"sessions"`
	Draining  bool              `json:"draining"`
	Problems  []string          `json:"problems,omitempty"`
}

// KeyspaceSummary is a keyspace of the overview.
type KeyspaceSummary struct {
	Name    string         `json:"name"`
	Sharded bool           `json:"sharded"`
	Tables  int            `json:"tables"`
	Shards  []ShardSummary `json:"shards"`
}

// ShardSummary is a shard of the overview.
type ShardSummary struct {
	Name     string          `json:"name"`
	Primary  string          `json:"primary"`
	Term     uint64          `json:"term,omitempty"`
	Problem  string          `json:"problem,omitempty"`
	Servers  []ServerSummary `json:"servers"`
	OK       bool            `json:"ok"`
	Error    string          `json:"error,omitempty"`
	PingMS   float64         `json:"ping_ms"`
	InUse    int             `json:"pool_in_use"`
	Idle     int             `json:"pool_idle"`
	Capacity int             `json:"pool_capacity"`
	Queries  uint64          `json:"queries"` // since start: the console shows their rate
	Errors   uint64          `json:"errors"`
}

// ServerSummary is one server of a shard.
type ServerSummary struct {
	Addr       string  `json:"addr"`
	Role       string  `json:"role"`
	Serving    bool    `json:"serving"`
	LagSeconds float64 `json:"lag_seconds"`
	Error      string  `json:"error,omitempty"`
}

func (a *Server) apiOverview(w http.ResponseWriter, r *http.Request) {
	ov := Overview{Time: time.Now().UnixMilli(), Totals: a.metrics.Totals(), Clients: a.proxy.Connections(),
		Sessions: a.proxy.Sessions(), Draining: a.proxy.Draining()}
	self := topo.ProxyInfo{ID: "this proxy", MySQL: a.proxy.ListenAddr(), HTTP: r.Host, Version: a.version, Started: a.started}
	ov.Proxies = []topo.ProxyInfo{self}
	if a.proxies != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		ps, err := a.proxies(ctx)
		cancel()
		if err != nil {
			ov.Problems = append(ov.Problems, "cannot list the proxies in etcd: "+err.Error())
		} else if len(ps) > 0 {
			ov.Proxies = ps
		}
	}
	health := map[string]ShardHealth{}
	for _, h := range a.Health(r.Context()) {
		health[h.Shard] = h
	}
	roles := map[string]ha.ShardStatus{}
	if a.ha != nil {
		for _, s := range a.ha.Shards() {
			roles[s.Keyspace+"/"+s.Shard] = s
		}
	}
	counts := a.metrics.ShardCounts()
	capacity := map[string]int{}
	for _, p := range a.router.Pools() {
		capacity[p.Name()] = p.Capacity()
	}
	snap := a.router.Snapshot()
	for _, name := range snap.Names() {
		ks, _ := snap.Keyspace(name)
		k := KeyspaceSummary{Name: name, Sharded: ks.Sharded, Tables: len(ks.Tables)}
		for _, sh := range ks.Shards {
			id := name + "/" + sh.Name
			h := health[id]
			s := ShardSummary{Name: sh.Name, OK: h.OK, Error: h.Error, PingMS: float64(h.Latency.Microseconds()) / 1000,
				InUse: h.InUse, Idle: h.Idle, Capacity: capacity[id], Queries: counts[id].Queries, Errors: counts[id].Errors}
			if st, ok := roles[id]; ok && len(st.Servers) > 0 {
				s.Primary, s.Term, s.Problem = st.Primary, st.Term, st.Problem
				for _, sv := range st.Servers {
					s.Servers = append(s.Servers, ServerSummary{Addr: sv.Addr, Role: sv.Role, Serving: sv.Serving, LagSeconds: sv.LagSeconds, Error: sv.Error})
				}
			} else {
				s.Primary = sh.Addr()
				role := "primary"
				if !h.OK {
					role = "down"
				}
				s.Servers = []ServerSummary{{Addr: sh.Addr(), Role: role, Serving: h.OK, Error: h.Error}}
			}
			k.Shards = append(k.Shards, s)
		}
		ov.Keyspaces = append(ov.Keyspaces, k)
	}
	writeJSON(w, ov)
}

// KeyspaceDetail is GET /api/keyspaces/{name}: its shards and vschema.
type KeyspaceDetail struct {
	Name          string        `json:"name"`
	Sharded       bool          `json:"sharded"`
	AutoVSchema   bool          `json:"auto_vschema"`
	DefaultVindex string        `json:"default_vindex,omitempty"`
	Shards        []ShardDetail `json:"shards"`
	Vindexes      []VindexInfo  `json:"vindexes"`
	Tables        []TableInfo   `json:"tables"`
}

// ShardDetail is a shard of a keyspace: its key range, servers and database.
type ShardDetail struct {
	Name     string   `json:"name"`
	KeyRange string   `json:"key_range"`
	Servers  []string `json:"servers"`
	Database string   `json:"database"`
}

// VindexInfo is a vindex of the vschema.
type VindexInfo struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// TableInfo is a table of the vschema.
type TableInfo struct {
	Name          string `json:"name"`
	Type          string `json:"type"` // sharded, reference, sequence, …
	Column        string `json:"column,omitempty"`
	Vindex        string `json:"vindex,omitempty"`
	AutoIncrement string `json:"auto_increment,omitempty"` // column ← sequence
}

func (a *Server) apiKeyspaces(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, a.router.Snapshot().Names())
}

func (a *Server) apiKeyspace(w http.ResponseWriter, r *http.Request) {
	ks, ok := a.router.Snapshot().Keyspace(r.PathValue("name"))
	if !ok {
		httpError(w, http.StatusNotFound, "no such keyspace")
		return
	}
	d := KeyspaceDetail{Name: ks.Name, Sharded: ks.Sharded, AutoVSchema: ks.AutoVSchema, DefaultVindex: ks.DefaultVindex,
		Shards: []ShardDetail{}, Vindexes: []VindexInfo{}, Tables: []TableInfo{}}
	for _, sh := range ks.Shards {
		servers := sh.Servers
		if len(servers) == 0 {
			servers = []string{sh.Addr()}
		}
		d.Shards = append(d.Shards, ShardDetail{Name: sh.Name, KeyRange: sh.Name, Servers: servers, Database: sh.Database})
	}
	for name, v := range ks.Vindexes {
		d.Vindexes = append(d.Vindexes, VindexInfo{Name: name, Type: v.Type()})
	}
	sort.Slice(d.Vindexes, func(i, j int) bool { return d.Vindexes[i].Name < d.Vindexes[j].Name })
	for _, t := range ks.Tables {
		ti := TableInfo{Name: t.Name, Type: t.Type.String(), Column: t.Column, Vindex: t.VindexName}
		if ti.Type == "" {
			ti.Type = "sharded"
			if !ks.Sharded {
				ti.Type = "unsharded"
			}
		}
		if ai := t.AutoIncrement; ai != nil {
			ti.AutoIncrement = ai.Column + " ← " + ai.Sequence
		}
		d.Tables = append(d.Tables, ti)
	}
	sort.Slice(d.Tables, func(i, j int) bool { return d.Tables[i].Name < d.Tables[j].Name })
	writeJSON(w, d)
}

// SessionInfo is a client session of GET /api/sessions.
type SessionInfo struct {
	ID      uint32  `json:"id"`
	User    string  `json:"user"`
	Host    string  `json:"host"`
	DB      string  `json:"db"`
	Command string  `json:"command"`
	TimeS   float64 `json:"time_s"`
	State   string  `json:"state"`
	// Info is the statement, normalized (values as ?) unless the request
	// carries an admin login; InfoFull is then the text as sent.
	Info        string  `json:"info"`
	InfoFull    string  `json:"info_full,omitempty"`
	Transaction bool    `json:"transaction"`
	TxAgeS      float64 `json:"transaction_age_s,omitempty"`
}

func (a *Server) apiSessions(w http.ResponseWriter, r *http.Request) {
	full := a.adminLoggedIn(r)
	now := time.Now()
	out := []SessionInfo{}
	for _, p := range a.proxy.List() {
		s := SessionInfo{ID: p.ID, User: p.User, Host: p.Host, DB: p.DB, Command: p.Command, TimeS: p.Time.Seconds(), State: p.State}
		if p.Info != "" {
			s.Info = metrics.Normalize(p.Info)
			if full {
				s.InfoFull = p.Info
			}
		}
		if !p.TransactionStart.IsZero() {
			s.Transaction, s.TxAgeS = true, now.Sub(p.TransactionStart).Seconds()
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	writeJSON(w, out)
}

// KillRequest is the body of POST /api/sessions/{id}/kill (optional).
type KillRequest struct {
	Query bool `json:"query"` // only the running statement (KILL QUERY)
}

func (a *Server) apiKill(w http.ResponseWriter, r *http.Request) {
	user, ok := a.adminUser(w, r)
	if !ok {
		return
	}
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 32)
	if err != nil {
		httpError(w, http.StatusBadRequest, "bad session id")
		return
	}
	var req KillRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		httpError(w, http.StatusBadRequest, "bad JSON body: "+err.Error())
		return
	}
	if err := a.proxy.Kill(uint32(id), req.Query, nil); err != nil {
		httpError(w, http.StatusNotFound, wire.AsError(err).Message)
		return
	}
	a.log.Info("session killed from the console", zap.String("user", user), zap.String("remote", r.RemoteAddr),
		zap.Uint64("session", id), zap.Bool("query_only", req.Query))
	writeJSON(w, map[string]any{"killed": id, "query_only": req.Query})
}

// Transactions is GET /api/transactions.
type Transactions struct {
	// TwoPC: this proxy has a two-phase-commit coordinator (a global
	// keyspace); InUse: two-phase commit is in use (the resolver scans).
	TwoPC   bool          `json:"twopc"`
	InUse   bool          `json:"in_use"`
	InDoubt []InDoubtInfo `json:"in_doubt"`
	Error   string        `json:"error,omitempty"`
	Actions []txn.Action  `json:"resolver_actions"`
	Stats   *txn.Stats    `json:"stats,omitempty"`
	Open    []SessionInfo `json:"open"` // sessions with an open transaction, oldest first
}

// InDoubtInfo is an unfinished distributed transaction.
type InDoubtInfo struct {
	DTID     string   `json:"dtid"`
	State    string   `json:"state"`
	Decision string   `json:"decision"`
	Branches []string `json:"branches"`
	AgeS     float64  `json:"age_s"`
}

func (a *Server) apiTransactions(w http.ResponseWriter, r *http.Request) {
	t := Transactions{InDoubt: []InDoubtInfo{}, Actions: []txn.Action{}, Open: []SessionInfo{}}
	if co := a.router.Coordinator(); co != nil {
		t.TwoPC, t.InUse = true, co.InUse()
		st := co.Stats()
		t.Stats = &st
		t.Actions = co.Actions()
		if t.InUse {
			ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
			ds, err := co.InDoubt(ctx, a.router.Pools())
			cancel()
			if err != nil {
				t.Error = err.Error()
			}
			for _, d := range ds {
				t.InDoubt = append(t.InDoubt, InDoubtInfo{DTID: d.DTID, State: d.State, Decision: d.Decision, Branches: d.Branches, AgeS: d.Age.Seconds()})
			}
		}
	}
	now := time.Now()
	for _, p := range a.proxy.List() {
		if p.TransactionStart.IsZero() {
			continue
		}
		t.Open = append(t.Open, SessionInfo{ID: p.ID, User: p.User, Host: p.Host, DB: p.DB, Command: p.Command,
			Info: metrics.Normalize(p.Info), Transaction: true, TxAgeS: now.Sub(p.TransactionStart).Seconds()})
	}
	sort.Slice(t.Open, func(i, j int) bool { return t.Open[i].TxAgeS > t.Open[j].TxAgeS })
	writeJSON(w, t)
}

// TopLine is a statement of GET /api/top (normalized, no values).
type TopLine struct {
	SQL       string  `json:"sql"`
	Count     uint64  `json:"count"`
	Errors    uint64  `json:"errors"`
	Rows      uint64  `json:"rows"`
	ShardsAvg float64 `json:"shards_avg"`
	TotalMS   float64 `json:"total_ms"`
	AvgMS     float64 `json:"avg_ms"`
	P50MS     float64 `json:"p50_ms"`
	P95MS     float64 `json:"p95_ms"`
	P99MS     float64 `json:"p99_ms"`
	MaxMS     float64 `json:"max_ms"`
}

func (a *Server) apiTop(w http.ResponseWriter, r *http.Request) {
	n := 100
	if v, err := strconv.Atoi(r.URL.Query().Get("n")); err == nil && v > 0 {
		n = min(v, 5000)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	out := []TopLine{}
	for _, q := range a.metrics.Top(n) {
		l := TopLine{SQL: q.SQL, Count: q.Count, Errors: q.Errors, Rows: q.Rows, TotalMS: ms(q.Total), AvgMS: ms(q.Avg()),
			P50MS: ms(q.P50), P95MS: ms(q.P95), P99MS: ms(q.P99), MaxMS: ms(q.Max)}
		if q.Count > 0 {
			l.ShardsAvg = float64(q.Shards) / float64(q.Count)
		}
		out = append(out, l)
	}
	writeJSON(w, out)
}

func (a *Server) apiTopReset(w http.ResponseWriter, r *http.Request) {
	user, ok := a.adminUser(w, r)
	if !ok {
		return
	}
	a.metrics.ResetTop()
	a.log.Info("top queries reset from the console", zap.String("user", user), zap.String("remote", r.RemoteAddr))
	writeJSON(w, map[string]bool{"reset": true})
}

// QueryRequest is the body of POST /api/query.
type QueryRequest struct {
	Keyspace string `json:"keyspace"`
	SQL      string `json:"sql"`
	// Mode is plan (VEXPLAIN PLAN: the plan, nothing runs) or queries
	// (VEXPLAIN QUERIES: the statement runs, and every query sent to a
	// shard is listed).
	Mode string `json:"mode"`
}

// QueryError is a statement's error in POST /api/query.
type QueryError struct {
	Code    uint16 `json:"code"`
	State   string `json:"state"`
	Message string `json:"message"`
}

// apiQuery runs VEXPLAIN of a statement with the rights of the admin user
// who is logged in, through the router as a SQL client of that account
// (router.Query): never as the shards' account.
func (a *Server) apiQuery(w http.ResponseWriter, r *http.Request) {
	user, ok := a.adminUser(w, r)
	if !ok {
		return
	}
	var req QueryRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		httpError(w, http.StatusBadRequest, "bad JSON body: "+err.Error())
		return
	}
	stmt := strings.TrimSpace(req.SQL)
	if stmt == "" {
		httpError(w, http.StatusBadRequest, "no statement")
		return
	}
	var verb string
	switch req.Mode {
	case "plan", "":
		verb = "VEXPLAIN PLAN "
	case "queries":
		verb = "VEXPLAIN QUERIES "
	default:
		httpError(w, http.StatusBadRequest, "mode is plan or queries")
		return
	}
	u := findUser(a.proxy.Config().Users, user)
	if u == nil {
		httpError(w, http.StatusUnauthorized, "the account is gone")
		return
	}
	a.log.Info("statement explained from the console", zap.String("user", user), zap.String("remote", r.RemoteAddr),
		zap.String("mode", req.Mode), zap.String("sql", metrics.Normalize(stmt)))
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	res, err := a.router.Query(ctx, u, req.Keyspace, verb+stmt)
	if err != nil {
		var e *wire.Error
		if errors.As(err, &e) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			_ = json.NewEncoder(w).Encode(map[string]QueryError{"sql_error": {Code: e.Code, State: e.State, Message: e.Message}})
			return
		}
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, res)
}

// adminLoggedIn reports whether a GET carries a valid admin login: it then
// sees data values (statements as sent, VDiff keys) that an anonymous
// reader of listen.http does not. A wrong login counts as a failed one.
func (a *Server) adminLoggedIn(r *http.Request) bool {
	if _, _, ok := r.BasicAuth(); !ok {
		return false
	}
	_, code, _ := a.checkAdmin(r)
	return code == 0
}
