package admin

import (
	"testing"
	"time"

	"github.com/shardgate/shardgate/config"
)

func TestAdminAuth(t *testing.T) {
	cfg, err := config.Parse("x.yaml", []byte(`users:
  - {name: ops, password: pw, admin: true}
  - {name: app, password: pw}
  - {name: open, password: "", admin: true}
keyspaces:
  ks: {shards: {"0": {host: 127.0.0.1, user: root}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		user, pw string
		ok       bool
	}{{"ops", "pw", true}, {"ops", "PW", false}, {"ops", "", false}, {"app", "pw", true}, {"nobody", "pw", false}, {"open", "", true}, {"open", "x", false}} {
		u := findUser(cfg.Users, c.user)
		if got := checkPassword(u, c.pw); got != c.ok {
			t.Errorf("%s/%q: %v, want %v", c.user, c.pw, got, c.ok)
		}
	}
	var f authFailures
	now := time.Now()
	for i := 0; i < maxAuthFailures; i++ {
		if f.blocked("1.2.3.4", now) {
			t.Fatalf("blocked after %d failures", i)
		}
		f.fail("1.2.3.4", now)
	}
	if !f.blocked("1.2.3.4", now) || f.blocked("5.6.7.8", now) {
		t.Fatal("blocking by address")
	}
	if f.blocked("1.2.3.4", now.Add(authWindow+time.Second)) {
		t.Fatal("still blocked after the window")
	}
}
