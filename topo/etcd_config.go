package topo

import (
	"strings"
	"time"
)

// Defaults of topology.etcd.
const (
	// DefaultEtcdPrefix is the root of shardgate's keys.
	DefaultEtcdPrefix = "/shardgate"
	// DefaultEtcdDialTimeout bounds connecting to etcd and the first read
	// of the topology at startup.
	DefaultEtcdDialTimeout = 5 * time.Second
)

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
