package topo

import (
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/shardgate/shardgate/internal/yamlcheck"
)

// DefaultEtcdDialTimeout bounds connecting to etcd and the first read of the
// topology at startup.
const DefaultEtcdDialTimeout = 5 * time.Second

// EtcdConfig is topology.etcd: where the shared topology lives.
type EtcdConfig struct {
	Endpoints []string // host:port or http(s)://host:port
	// Prefix is the root of shardgate's keys ("/shardgate" by default,
	// without a trailing slash): keyspaces under Prefix+"/keyspaces/",
	// live proxies under Prefix+"/proxies/".
	Prefix      string
	DialTimeout time.Duration // default 5s
	// CacheFile, when set, holds the last topology accepted from etcd, so
	// that a proxy can start while etcd is unreachable. Resolved against the
	// config file's folder; it need not exist.
	CacheFile string
	TLS       *EtcdTLS // nil: plain connections
}

// EtcdTLS is the client TLS towards etcd. Paths are resolved against the
// config file's folder and exist. CA alone verifies the server; Cert and Key
// (both or neither) authenticate the proxy.
type EtcdTLS struct {
	CA, Cert, Key string
}

type rawEtcd struct {
	Endpoints   []string    `yaml:"endpoints"`
	Prefix      string      `yaml:"prefix"`
	DialTimeout string      `yaml:"dial_timeout"`
	CacheFile   string      `yaml:"cache_file"`
	TLS         *rawEtcdTLS `yaml:"tls"`
}

type rawEtcdTLS struct {
	CA   string `yaml:"ca"`
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// etcd checks topology.etcd; endpoints are required when used is true.
func (b *builder) etcd(raw *rawEtcd, used bool) EtcdConfig {
	const key = "topology.etcd"
	c := EtcdConfig{Endpoints: raw.Endpoints}
	for i, ep := range raw.Endpoints {
		if msg := checkEndpoint(ep); msg != "" {
			b.errf(yamlcheck.Index(key+".endpoints", i), "%s", msg)
		}
	}
	if used && len(raw.Endpoints) == 0 {
		b.errf(key+".endpoints", "topology source etcd needs at least one endpoint (host:port)")
	}
	prefix, msg := NormalizeEtcdPrefix(raw.Prefix)
	if msg != "" {
		b.errf(key+".prefix", "%s", msg)
	}
	c.Prefix = prefix
	c.DialTimeout = b.duration(key+".dial_timeout", raw.DialTimeout, DefaultEtcdDialTimeout, false)
	if raw.CacheFile != "" {
		c.CacheFile = raw.CacheFile
		if !filepath.IsAbs(c.CacheFile) {
			c.CacheFile = filepath.Join(b.dir, c.CacheFile)
		}
	}
	if t := raw.TLS; t != nil {
		c.TLS = &EtcdTLS{}
		if t.CA == "" && t.Cert == "" && t.Key == "" {
			b.errf(key+".tls", "give ca (to verify etcd), and cert and key (to authenticate to it)")
		}
		if t.CA != "" {
			c.TLS.CA = b.file2(key+".tls.ca", t.CA)
		}
		if (t.Cert == "") != (t.Key == "") {
			b.errf(key+".tls", "cert and key go together: give both or neither")
		} else if t.Cert != "" {
			c.TLS.Cert = b.file2(key+".tls.cert", t.Cert)
			c.TLS.Key = b.file2(key+".tls.key", t.Key)
		}
	}
	return c
}

// NormalizeEtcdPrefix returns the key prefix without trailing slashes
// ("" means the default, /shardgate), or a reason why it is not usable.
func NormalizeEtcdPrefix(p string) (string, string) {
	if p == "" {
		return DefaultEtcdPrefix, ""
	}
	if !strings.HasPrefix(p, "/") {
		return p, `the prefix is an etcd key path starting with "/", such as /shardgate`
	}
	if strings.ContainsAny(p, " \t\r\n") {
		return p, "the prefix must not contain spaces"
	}
	return strings.TrimRight(p, "/"), ""
}

func checkEndpoint(ep string) string {
	if ep == "" {
		return "an endpoint is host:port or http(s)://host:port, not empty"
	}
	if strings.Contains(ep, "://") {
		u, err := url.Parse(ep)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "unix" && u.Scheme != "unixs") {
			return "want host:port or http(s)://host:port, got " + quote(ep)
		}
		return ""
	}
	if strings.ContainsAny(ep, " /") || !strings.Contains(ep, ":") {
		return "want host:port or http(s)://host:port, got " + quote(ep)
	}
	return ""
}

func quote(s string) string { return `"` + s + `"` }
