package admin

import (
	"html/template"
	"strconv"

	"net/http"
	"runtime"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"gopkg.in/yaml.v3"

	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/ha"
	"github.com/shardgate/shardgate/metrics"
	"github.com/shardgate/shardgate/workflow"
)

// Status is what /debug/status shows (?format=json gives it as JSON).
type Status struct {
	Version     string         `json:"version"`
	Started     time.Time      `json:"started"`
	Uptime      string         `json:"uptime"`
	Draining    bool           `json:"draining"`
	Connections int            `json:"client_connections"`
	Sessions    int            `json:"sessions"`
	Goroutines  int            `json:"goroutines"`
	HeapBytes   uint64         `json:"heap_bytes"`
	Keyspaces   []KeyspaceInfo `json:"keyspaces"`
	Shards      []ShardHealth  `json:"shards"`
	PlanCache   PlanCache      `json:"plan_cache"`
	// Replication groups: every server's role and lag, and the last
	// recoveries (newest first).
	HA         []ha.ShardStatus   `json:"ha,omitempty"`
	Recoveries []ha.Recovery      `json:"recoveries,omitempty"`
	Workflows  []*workflow.Status `json:"workflows,omitempty"` // online workflows (workflow.go)
	TopQueries []TopQuery         `json:"top_queries"`
	Config     string             `json:"config"` // YAML, passwords hidden
	ConfigPath string             `json:"config_path"`
}

// KeyspaceInfo describes one keyspace.
type KeyspaceInfo struct {
	Name     string   `json:"name"`
	Sharded  bool     `json:"sharded"`
	Shards   []string `json:"shards"`
	Tables   int      `json:"tables"`
	Vindexes []string `json:"vindexes"`
}

// PlanCache is the router's plan cache.
type PlanCache struct {
	Hits     uint64  `json:"hits"`
	Misses   uint64  `json:"misses"`
	Size     int     `json:"size"`
	HitRatio float64 `json:"hit_ratio"`
}

// TopQuery is a line of the top-queries table.
type TopQuery struct {
	SQL     string  `json:"sql"`
	Count   uint64  `json:"count"`
	Errors  uint64  `json:"errors"`
	TotalMS float64 `json:"total_ms"`
	AvgMS   float64 `json:"avg_ms"`
	MaxMS   float64 `json:"max_ms"`
}

// Status collects the status page's data.
func (a *Server) Status(r *http.Request) *Status {
	cfg := a.proxy.Config()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := &Status{
		Version: a.version, Started: a.started, Uptime: time.Since(a.started).Round(time.Second).String(),
		Draining: a.proxy.Draining(), Connections: a.proxy.Connections(), Sessions: a.proxy.Sessions(),
		Goroutines: runtime.NumGoroutine(), HeapBytes: ms.HeapAlloc,
		Shards: a.Health(r.Context()), Config: RedactedConfig(cfg), ConfigPath: cfg.Path,
	}
	snap := a.router.Snapshot()
	for _, name := range snap.Names() {
		ks, _ := snap.Keyspace(name)
		ki := KeyspaceInfo{Name: name, Sharded: ks.Sharded, Tables: len(ks.Tables)}
		for _, sh := range ks.Shards {
			ki.Shards = append(ki.Shards, sh.Name)
		}
		for v, vi := range ks.Vindexes {
			ki.Vindexes = append(ki.Vindexes, v+" ("+vi.Type()+")")
		}
		sort.Strings(ki.Vindexes)
		st.Keyspaces = append(st.Keyspaces, ki)
	}
	if a.ha != nil {
		st.HA = a.ha.Shards()
		if recs, err := a.ha.Recoveries(r.Context()); err == nil {
			for i := len(recs) - 1; i >= 0 && len(st.Recoveries) < 10; i-- {
				st.Recoveries = append(st.Recoveries, recs[i])
			}
		}
	}
	if a.workflows != nil {
		st.Workflows, _ = a.workflows.List(r.Context())
	}
	hits, misses, size := a.router.CacheStats()
	st.PlanCache = PlanCache{Hits: hits, Misses: misses, Size: size}
	if hits+misses > 0 {
		st.PlanCache.HitRatio = float64(hits) / float64(hits+misses)
	}
	for _, q := range a.metrics.Top(25) {
		st.TopQueries = append(st.TopQueries, topQuery(q))
	}
	return st
}

func topQuery(q metrics.QueryStat) TopQuery {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return TopQuery{SQL: q.SQL, Count: q.Count, Errors: q.Errors, TotalMS: ms(q.Total), AvgMS: ms(q.Avg()), MaxMS: ms(q.Max)}
}

func (a *Server) status(w http.ResponseWriter, r *http.Request) {
	st := a.Status(r)
	if r.URL.Query().Get("format") == "json" {
		writeJSON(w, st)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := statusPage.Execute(w, st); err != nil {
		a.log.Warn("status page", zapError(err))
	}
}

// RedactedConfig renders the configuration in force as YAML, with every
// password and password hash replaced by "<hidden>".
func RedactedConfig(cfg *config.Config) string {
	if cfg == nil {
		return ""
	}
	type shard struct {
		Servers  []string `yaml:"servers,omitempty"`
		Host     string   `yaml:"host,omitempty"`
		Port     int      `yaml:"port,omitempty"`
		Socket   string   `yaml:"socket,omitempty"`
		User     string   `yaml:"user"`
		Password string   `yaml:"password"`
		Database string   `yaml:"database"`
		TLS      string   `yaml:"tls,omitempty"`
	}
	type keyspace struct {
		Sharded     bool              `yaml:"sharded"`
		AutoVSchema bool              `yaml:"auto_vschema,omitempty"`
		Shards      map[string]shard  `yaml:"shards"`
		Tables      map[string]string `yaml:"tables,omitempty"`
	}
	type user struct {
		Name      string   `yaml:"name"`
		Password  string   `yaml:"password"`
		Auth      []string `yaml:"auth"`
		Keyspaces []string `yaml:"keyspaces,omitempty"`
		ReadOnly  bool     `yaml:"read_only,omitempty"`
		Admin     bool     `yaml:"admin,omitempty"`
	}
	hide := func(set bool) string {
		if set {
			return "<hidden>"
		}
		return "<empty>"
	}
	doc := map[string]any{}
	listen := map[string]any{"mysql": cfg.Listen.MySQL, "http": cfg.Listen.HTTP, "default_auth": cfg.Listen.DefaultAuth}
	if t := cfg.Listen.TLS; t != nil {
		listen["tls"] = map[string]any{"cert": t.Cert, "key": t.Key, "require": t.Require}
	}
	doc["listen"] = listen
	var users []user
	for _, u := range cfg.Users {
		uu := user{Name: u.Name, Password: hide(u.NativeHash != nil || u.SHA2Hash != nil), Keyspaces: u.Keyspaces, ReadOnly: u.ReadOnly, Admin: u.Admin}
		uu.Auth = append(uu.Auth, "mysql_native_password")
		if u.SHA2Hash != nil || u.NativeHash == nil {
			uu.Auth = append(uu.Auth, "caching_sha2_password")
		} else {
			uu.Auth = append(uu.Auth, "caching_sha2_password (over TLS: full authentication)")
		}
		users = append(users, uu)
	}
	doc["users"] = users
	doc["default_keyspace"] = cfg.DefaultKeyspace
	doc["global_keyspace"] = cfg.GlobalKeyspace
	doc["transaction_mode"] = cfg.TransactionMode
	doc["topology"] = map[string]any{"source": cfg.Topology.Source}
	doc["pool"] = map[string]any{"size": cfg.Pool.Size, "max_idle": cfg.Pool.MaxIdle, "wait_timeout": cfg.Pool.WaitTimeout.String(),
		"connect_timeout": cfg.Pool.ConnectTimeout.String(), "idle_timeout": cfg.Pool.IdleTimeout.String()}
	doc["limits"] = map[string]any{"max_connections": cfg.Limits.MaxConnections, "max_packet_size": cfg.Limits.MaxPacketSize,
		"max_memory_rows": cfg.Limits.MaxMemoryRows, "idle_timeout": cfg.Limits.IdleTimeout.String(), "query_timeout": cfg.Limits.QueryTimeout.String()}
	doc["login_rate_limit"] = map[string]any{"max_failures": cfg.LoginRateLimit.MaxFailures, "window": cfg.LoginRateLimit.Window.String()}
	doc["log"] = map[string]any{"json": cfg.Log.JSON, "level": cfg.Log.Level}
	doc["ha"] = map[string]any{"failover": cfg.HA.Failover, "replication": map[string]any{"user": cfg.HA.ReplUser, "password": hide(cfg.HA.ReplPassword != "")},
		"probe_interval": cfg.HA.ProbeInterval.String(), "probe_timeout": cfg.HA.ProbeTimeout.String(), "buffer_window": cfg.HA.BufferWindow.String(),
		"buffer_size": cfg.HA.BufferSize, "replica_max_lag": cfg.HA.ReplicaMaxLag.String(), "recovery_block_period": cfg.HA.RecoveryBlockPeriod.String(),
		"relay_wait_timeout": cfg.HA.RelayWaitTimeout.String()}
	doc["slow_query_log"] = map[string]any{"threshold": cfg.SlowQueryLog.Threshold.String()}
	kss := map[string]keyspace{}
	for _, name := range cfg.Keyspaces.Names() {
		ks, _ := cfg.Keyspaces.Keyspace(name)
		k := keyspace{Sharded: ks.Sharded, AutoVSchema: ks.AutoVSchema, Shards: map[string]shard{}, Tables: map[string]string{}}
		for _, sh := range ks.Shards {
			ss := shard{Host: sh.Host, Port: sh.Port, Socket: sh.Socket, User: sh.User, Password: hide(sh.Password != ""), Database: sh.Database}
			if sh.HA() {
				ss.Servers = sh.Servers
			}
			if t := sh.TLS; t != nil {
				ss.TLS = "ca=" + t.CA + " server_name=" + t.ServerName + " client_cert=" + t.Cert
				if t.SkipVerify {
					ss.TLS += " skip_verify"
				}
			}
			k.Shards[sh.Name] = ss
		}
		for _, t := range ks.Tables {
			desc := t.Type.String()
			if t.Column != "" {
				desc = strings.TrimSpace(desc + " " + t.VindexName + "(" + t.Column + ")")
			}
			if desc == "" {
				desc = "table"
			}
			k.Tables[t.Name] = desc
		}
		kss[name] = k
	}
	doc["keyspaces"] = kss
	out, err := yaml.Marshal(doc)
	if err != nil {
		return "# " + err.Error()
	}
	return string(out)
}

var statusPage = template.Must(template.New("status").Funcs(template.FuncMap{
	"pct": func(f float64) string {
		return strings.TrimRight(strings.TrimRight(template.HTMLEscapeString(fmtFloat(f*100)), "0"), ".") + "%"
	},
	"mb":  func(b uint64) string { return fmtFloat(float64(b)/(1<<20)) + " MiB" },
	"ms":  func(f float64) string { return fmtFloat(f) },
	"dur": func(d time.Duration) string { return d.Round(10 * time.Microsecond).String() },
}).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>shardgate status</title>
<style>
body{font-family:sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin-bottom:1.5em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f0f0f0}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#080;font-weight:bold}.bad{color:#b00;font-weight:bold}
pre{background:#f7f7f7;padding:1em;border:1px solid #ddd;overflow:auto}
code{white-space:pre-wrap}
</style></head><body>
<h1>shardgate {{.Version}}</h1>
<p>up {{.Uptime}} (since {{.Started.Format "2006-01-02 15:04:05 MST"}}) ·
{{if .Draining}}<span class="bad">draining</span>{{else}}<span class="ok">serving</span>{{end}} ·
{{.Connections}} client connections, {{.Sessions}} sessions · {{.Goroutines}} goroutines · heap {{mb .HeapBytes}} ·
<a href="/">console</a> <a href="/metrics">/metrics</a> <a href="/readyz">/readyz</a> <a href="/debug/status?format=json">JSON</a></p>

<h2>Keyspaces</h2>
<table><tr><th>keyspace</th><th>sharded</th><th>shards</th><th>vschema tables</th><th>vindexes</th></tr>
{{range .Keyspaces}}<tr><td>{{.Name}}</td><td>{{.Sharded}}</td><td>{{range $i, $s := .Shards}}{{if $i}}, {{end}}{{$s}}{{end}}</td><td class="num">{{.Tables}}</td><td>{{range $i, $v := .Vindexes}}{{if $i}}, {{end}}{{$v}}{{end}}</td></tr>
{{end}}</table>

<h2>Shards</h2>
<table><tr><th>shard</th><th>address</th><th>health</th><th>ping</th><th>pool in use</th><th>pool idle</th></tr>
{{range .Shards}}<tr><td>{{.Shard}}</td><td>{{.Addr}}</td><td>{{if .OK}}<span class="ok">ok</span>{{else}}<span class="bad">down</span>{{end}} {{.Error}}</td><td class="num">{{dur .Latency}}</td><td class="num">{{.InUse}}</td><td class="num">{{.Idle}}</td></tr>
{{end}}</table>

{{if .HA}}<h2>Servers (<a href="/api/shards">/api/shards</a>)</h2>
<table><tr><th>shard</th><th>server</th><th>role</th><th>serving</th><th>lag s</th><th>replicates from</th><th>GTID</th><th>problem</th></tr>
{{range $s := .HA}}{{range .Servers}}<tr><td>{{$s.Keyspace}}/{{$s.Shard}}{{if $s.Term}} (term {{$s.Term}}){{end}}</td><td>{{.Addr}}</td><td>{{if eq .Role "primary" "replica"}}<span class="ok">{{.Role}}</span>{{else}}<span class="bad">{{.Role}}</span>{{end}}</td><td>{{.Serving}}</td><td class="num">{{ms .LagSeconds}}</td><td>{{.ReplicatesFrom}}</td><td>{{.GTIDCurrentPos}}</td><td>{{.Error}}</td></tr>
{{end}}{{if $s.Problem}}<tr><td colspan="8" class="bad">{{$s.Keyspace}}/{{$s.Shard}}: {{$s.Problem}}</td></tr>{{end}}{{end}}</table>
{{end}}{{if .Workflows}}<h2>Workflows (<a href="/api/workflows">/api/workflows</a>)</h2>
<table><tr><th>workflow</th><th>type</th><th>phase</th><th>traffic on</th><th>rows copied</th><th>lag (s)</th><th>last switch</th><th>last vdiff</th><th>error</th></tr>
{{range .Workflows}}<tr><td>{{.Keyspace}}/{{.Name}}</td><td>{{.Type}}</td><td>{{.Phase}}</td><td>{{.TrafficOn}}</td><td class="num">{{.RowsCopied}}</td><td class="num">{{printf "%.3f" .LagSeconds}}</td><td>{{with .LastSwitch}}{{.Direction}} held {{ms .HeldMS}} ms{{if not .OK}} <span class="bad">aborted</span>{{end}}{{end}}</td><td>{{with .VDiff}}{{.RowsCompared}} rows, {{.Mismatched}} mismatched, {{.ExtraSource}}/{{.ExtraTarget}} extra{{end}}</td><td>{{if .Error}}<span class="bad">{{.Error}}</span>{{end}}</td></tr>
{{end}}</table>
{{end}}{{if .Recoveries}}<h2>Recoveries (<a href="/api/recoveries">/api/recoveries</a>)</h2>
<table><tr><th>start</th><th>kind</th><th>shard</th><th>old → new primary</th><th>outcome</th><th>ms</th><th>steps (ms)</th></tr>
{{range .Recoveries}}<tr><td>{{.Start.Format "2006-01-02 15:04:05.000"}}</td><td>{{.Kind}}</td><td>{{.Keyspace}}/{{.Shard}}</td><td>{{.OldPrimary}} → {{.NewPrimary}}</td><td>{{if eq .Outcome "success"}}<span class="ok">{{.Outcome}}</span>{{else}}<span class="bad">{{.Outcome}}</span>{{end}} {{.Error}}</td><td class="num">{{ms .DurationMS}}</td><td>{{range .Steps}}{{.Name}} {{ms .DurationMS}}{{if not .OK}} <span class="bad">failed</span>{{end}}<br>{{end}}</td></tr>
{{end}}</table>
{{end}}
<h2>Plan cache</h2>
<p>{{.PlanCache.Size}} plans · {{.PlanCache.Hits}} hits · {{.PlanCache.Misses}} misses · hit ratio {{pct .PlanCache.HitRatio}}</p>

<h2>Top queries by total time</h2>
<table><tr><th>normalized SQL</th><th>count</th><th>errors</th><th>total ms</th><th>avg ms</th><th>max ms</th></tr>
{{range .TopQueries}}<tr><td><code>{{.SQL}}</code></td><td class="num">{{.Count}}</td><td class="num">{{.Errors}}</td><td class="num">{{ms .TotalMS}}</td><td class="num">{{ms .AvgMS}}</td><td class="num">{{ms .MaxMS}}</td></tr>
{{else}}<tr><td colspan="6">no statements yet</td></tr>
{{end}}</table>

<h2>Configuration in force</h2>
<p>{{.ConfigPath}} (passwords hidden)</p>
<pre>{{.Config}}</pre>
</body></html>
`))

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'f', 3, 64) }

func zapError(err error) zap.Field { return zap.Error(err) }
