package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"io"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/wire"
)

var fuzzSalt = []byte("abcdefghijklmnopqrst")

func fuzzUsers() map[string]*config.User {
	s1 := sha256.Sum256([]byte("secret"))
	s2 := sha256.Sum256(s1[:])
	return map[string]*config.User{
		"app":    {Name: "app", NativeHash: mysql.NativePasswordHash([]byte("secret")), SHA2Hash: s2[:]},
		"hashed": {Name: "hashed", NativeHash: mysql.NativePasswordHash([]byte("reporting"))},
		"empty":  {Name: "empty"},
	}
}

func testTLSConfig(tb testing.TB) *tls.Config {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fuzz"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// handshakeResponse builds a HandshakeResponse41.
func handshakeResponse(caps uint32, user string, auth []byte, db, plugin string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, caps)
	b = binary.LittleEndian.AppendUint32(b, 1<<24)
	b = append(b, 45)
	b = append(b, make([]byte, 23)...)
	b = append(b, user...)
	b = append(b, 0)
	b = append(b, byte(len(auth)))
	b = append(b, auth...)
	if caps&mysql.CLIENT_CONNECT_WITH_DB != 0 {
		b = append(b, db...)
		b = append(b, 0)
	}
	b = append(b, plugin...)
	return append(b, 0)
}

// scrambleSHA2 is the client side of caching_sha2_password (go-mysql's).
func scrambleSHA2(pw string, salt []byte) []byte {
	return mysql.CalcCachingSha2Password(salt, []byte(pw))
}

const fuzzCaps = mysql.CLIENT_PROTOCOL_41 | mysql.CLIENT_SECURE_CONNECTION | mysql.CLIENT_PLUGIN_AUTH | mysql.CLIENT_CONNECT_WITH_DB

func frame(seq byte, p []byte) []byte {
	return append([]byte{byte(len(p)), byte(len(p) >> 8), byte(len(p) >> 16), seq}, p...)
}

// runHandshake plays a client that sends first (the handshake response or
// SSL request) and then second (an auth-switch answer, cleartext password
// or TLS bytes) against the server side, and returns what the server
// decided.
func runHandshake(tb testing.TB, tlsCfg *tls.Config, first, second []byte) (*handshakeResult, error) {
	srv, cli := net.Pipe()
	defer srv.Close()
	_ = srv.SetDeadline(time.Now().Add(2 * time.Second))
	_ = cli.SetDeadline(time.Now().Add(2 * time.Second))
	go func() {
		defer cli.Close()
		if _, err := cli.Write(frame(1, first)); err != nil {
			return
		}
		go func() { _, _ = io.Copy(io.Discard, cli) }()
		_, _ = cli.Write(frame(3, second))
	}()
	c := wire.NewConn(srv)
	c.MaxPacket = maxHandshakePacket
	hs, err := handshake(c, tlsCfg)
	if err != nil {
		return nil, err
	}
	return hs, authenticate(c, hs, fuzzSalt, fuzzUsers())
}

func TestHandshakeAuth(t *testing.T) {
	tlsCfg := testTLSConfig(t)
	native := func(pw string) []byte { return mysql.CalcNativePassword(fuzzSalt, []byte(pw)) }
	for _, tc := range []struct {
		name          string
		first, second []byte
		ok            bool
	}{
		{"native ok", handshakeResponse(fuzzCaps, "app", native("secret"), "customer", nativePlugin), nil, true},
		{"native bad", handshakeResponse(fuzzCaps, "app", native("nope"), "", nativePlugin), nil, false},
		{"native unknown", handshakeResponse(fuzzCaps, "ghost", native("secret"), "", nativePlugin), nil, false},
		{"sha2 fast ok", handshakeResponse(fuzzCaps, "app", scrambleSHA2("secret", fuzzSalt), "", sha2Plugin), nil, true},
		{"sha2 bad then native switch ok", handshakeResponse(fuzzCaps, "app", scrambleSHA2("nope", fuzzSalt), "", sha2Plugin), native("secret"), true},
		{"sha2 hashed account via switch", handshakeResponse(fuzzCaps, "hashed", scrambleSHA2("reporting", fuzzSalt), "", sha2Plugin), native("reporting"), true},
		{"sha2 unknown", handshakeResponse(fuzzCaps, "ghost", scrambleSHA2("x", fuzzSalt), "", sha2Plugin), native("x"), false},
		{"other plugin switched", handshakeResponse(fuzzCaps, "app", []byte("zzz"), "", "client_ed25519"), native("secret"), true},
		{"empty password", handshakeResponse(fuzzCaps, "empty", nil, "", nativePlugin), nil, true},
		{"empty password, sent one", handshakeResponse(fuzzCaps, "empty", native("x"), "", nativePlugin), nil, false},
		{"no such user, empty", handshakeResponse(fuzzCaps, "ghost", nil, "", nativePlugin), nil, false},
	} {
		hs, err := runHandshake(t, tlsCfg, tc.first, tc.second)
		if tc.ok != (err == nil) {
			t.Errorf("%s: err %v", tc.name, err)
			continue
		}
		if err != nil {
			if e, ok := err.(*wire.Error); !ok || e.Code != mysql.ER_ACCESS_DENIED_ERROR {
				t.Errorf("%s: %v, want 1045", tc.name, err)
			}
			continue
		}
		if hs.user == nil || hs.user.Name != hs.userName {
			t.Errorf("%s: user %+v", tc.name, hs.user)
		}
	}
}

// FuzzHandshake throws arbitrary handshake responses and follow-up packets
// (auth-switch answers, TLS bytes after an SSL request) at the handshake
// and authentication: they never panic, and never let in anyone but a
// configured account.
func FuzzHandshake(f *testing.F) {
	tlsCfg := testTLSConfig(f)
	native := mysql.CalcNativePassword(fuzzSalt, []byte("secret"))
	f.Add(handshakeResponse(fuzzCaps, "app", native, "customer", nativePlugin), []byte{})
	f.Add(handshakeResponse(fuzzCaps, "app", scrambleSHA2("secret", fuzzSalt), "", sha2Plugin), []byte{})
	f.Add(handshakeResponse(fuzzCaps, "app", scrambleSHA2("bad", fuzzSalt), "", sha2Plugin), native)
	f.Add(handshakeResponse(fuzzCaps|mysql.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA, "x", []byte{0xfc, 0xff}, "", "dialog"), []byte("pw\x00"))
	f.Add(handshakeResponse(fuzzCaps|mysql.CLIENT_SSL, "", nil, "", "")[:32], []byte{0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5})
	f.Add(handshakeResponse(mysql.CLIENT_PROTOCOL_41, "u", nil, "", ""), []byte{})
	f.Add([]byte{}, []byte{})
	f.Add(make([]byte, 33), []byte{0})
	f.Fuzz(func(t *testing.T, first, second []byte) {
		if len(first) > maxHandshakePacket || len(second) > maxHandshakePacket {
			return
		}
		hs, err := runHandshake(t, tlsCfg, first, second)
		if err != nil {
			return
		}
		if hs.user == nil || fuzzUsers()[hs.userName] == nil || hs.user.Name != hs.userName {
			t.Fatalf("logged in as %q with user %+v", hs.userName, hs.user)
		}
	})
}

func TestLoginLimiter(t *testing.T) {
	l := newLoginLimiter()
	now := time.Now()
	for i := 0; i < 3; i++ {
		if b, _ := l.blocked("h", 3, time.Minute, now); b {
			t.Fatalf("blocked after %d failures", i)
		}
		l.fail("h", 3, time.Minute, now)
	}
	if b, until := l.blocked("h", 3, time.Minute, now.Add(time.Second)); !b || !until.Equal(now.Add(time.Minute)) {
		t.Fatalf("not blocked after 3 failures (%v %v)", b, until)
	}
	if b, _ := l.blocked("other", 3, time.Minute, now); b {
		t.Fatal("another address blocked")
	}
	if b, _ := l.blocked("h", 3, time.Minute, now.Add(61*time.Second)); b {
		t.Fatal("still blocked after the window")
	}
	// failures spread wider than the window never block
	for i := 0; i < 10; i++ {
		l.fail("slow", 3, time.Minute, now.Add(time.Duration(i)*31*time.Second))
		if b, _ := l.blocked("slow", 3, time.Minute, now.Add(time.Duration(i)*31*time.Second)); b {
			t.Fatalf("blocked at %d", i)
		}
	}
}
