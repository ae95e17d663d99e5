package config

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/shardgate/shardgate/internal/yamlcheck"
	"github.com/shardgate/shardgate/topo"
)

// rawEtcd is topology.etcd as written; topo.EtcdConfig is what it builds.
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
func (b *builder) etcd(raw *rawEtcd, used bool) topo.EtcdConfig {
	const key = "topology.etcd"
	c := topo.EtcdConfig{Endpoints: raw.Endpoints}
	for i, ep := range raw.Endpoints {
		if msg := checkEndpoint(ep); msg != "" {
			b.Errorf(yamlcheck.Index(key+".endpoints", i), "%s", msg)
		}
	}
	if used && len(raw.Endpoints) == 0 {
		b.Errorf(key+".endpoints", "topology source etcd needs at least one endpoint (host:port)")
	}
	prefix, msg := topo.NormalizeEtcdPrefix(raw.Prefix)
	if msg != "" {
		b.Errorf(key+".prefix", "%s", msg)
	}
	c.Prefix = prefix
	c.DialTimeout = b.duration(key+".dial_timeout", raw.DialTimeout, topo.DefaultEtcdDialTimeout, false)
	if raw.CacheFile != "" {
		c.CacheFile = raw.CacheFile
		if !filepath.IsAbs(c.CacheFile) {
			c.CacheFile = filepath.Join(b.Dir, c.CacheFile)
		}
	}
	if t := raw.TLS; t != nil {
		c.TLS = &topo.EtcdTLS{}
		if t.CA == "" && t.Cert == "" && t.Key == "" {
			b.Errorf(key+".tls", "give ca (to verify etcd), and cert and key (to authenticate to it)")
		}
		if t.CA != "" {
			c.TLS.CA = b.Path(key+".tls.ca", t.CA)
		}
		if (t.Cert == "") != (t.Key == "") {
			b.Errorf(key+".tls", "cert and key go together: give both or neither")
		} else if t.Cert != "" {
			c.TLS.Cert = b.Path(key+".tls.cert", t.Cert)
			c.TLS.Key = b.Path(key+".tls.key", t.Key)
		}
	}
	return c
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

// ExportKeyspaces loads the config file at path (checking it as Load does)
// and returns its keyspaces as etcd documents, vschema_file inlined.
func ExportKeyspaces(path string) (map[string]*topo.KeyspaceDoc, *Config, error) {
	cfg, err := Load(path)
	if err != nil {
		return nil, nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var raw rawConfig
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, nil, err
	}
	out := map[string]*topo.KeyspaceDoc{}
	for name, rk := range raw.Keyspaces {
		if rk == nil {
			rk = &topo.RawKeyspace{}
		}
		d, err := rk.Doc(filepath.Dir(path))
		if err != nil {
			return nil, nil, err
		}
		out[name] = d
	}
	return out, cfg, nil
}
