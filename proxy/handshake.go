package proxy

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/wire"
)

// ServerVersion is what the greeting announces. The 5.5.5- prefix is how
// MariaDB tells clients it is MariaDB; they strip it.
const ServerVersion = "5.5.5-10.11.0-MariaDB-shardgate"

// serverCaps are the capabilities offered to clients (plus CLIENT_SSL when
// TLS is configured). No CLIENT_DEPRECATE_EOF: backends are asked for none
// either, so result packets relay unchanged.
const serverCaps = mysql.CLIENT_LONG_PASSWORD | mysql.CLIENT_FOUND_ROWS | mysql.CLIENT_LONG_FLAG |
	mysql.CLIENT_CONNECT_WITH_DB | mysql.CLIENT_NO_SCHEMA | mysql.CLIENT_PROTOCOL_41 |
	mysql.CLIENT_TRANSACTIONS | mysql.CLIENT_SECURE_CONNECTION | mysql.CLIENT_MULTI_RESULTS | mysql.CLIENT_MULTI_STATEMENTS |
	mysql.CLIENT_PS_MULTI_RESULTS | mysql.CLIENT_PLUGIN_AUTH | mysql.CLIENT_CONNECT_ATTRS |
	mysql.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | mysql.CLIENT_IGNORE_SPACE | mysql.CLIENT_INTERACTIVE

const (
	nativePlugin = config.NativeAuthPlugin
	sha2Plugin   = config.CachingSHA2AuthPlugin
)

// caching_sha2_password's AuthMoreData payloads.
var (
	sha2FastAuthOK   = []byte{1, 3}
	sha2FullAuthNeed = []byte{1, 4}
)

// maxHandshakePacket bounds what a client may send before it has logged in.
const maxHandshakePacket = 64 << 10

// handshakeResult is what the client said in its handshake response.
type handshakeResult struct {
	user      *config.User
	userName  string
	db        string
	caps      uint32
	collation byte
	auth      []byte // auth response (copied)
	plugin    string // plugin the auth response is for
	secure    bool   // the connection switched to TLS
	method    string // plugin that authenticated the client (metrics)
	names     string // COM_CHANGE_USER: SET NAMES for its character set ("" = default)
}

func newSalt() ([]byte, error) {
	salt := make([]byte, 20)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	// The salt travels NUL-terminated: keep it free of 0 (and printable-ish).
	for i := range salt {
		salt[i] = salt[i]%94 + 33
	}
	return salt, nil
}

func writeGreeting(c *wire.Conn, connID uint32, salt []byte, status uint16, withTLS bool, plugin string) error {
	caps := uint32(serverCaps)
	if withTLS {
		caps |= mysql.CLIENT_SSL
	}
	b := make([]byte, 0, 128)
	b = append(b, 10)
	b = append(b, ServerVersion...)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint32(b, connID)
	b = append(b, salt[:8]...)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(caps&0xffff))
	b = append(b, 45) // utf8mb4_general_ci
	b = binary.LittleEndian.AppendUint16(b, status)
	b = binary.LittleEndian.AppendUint16(b, uint16(caps>>16))
	b = append(b, 21)
	b = append(b, make([]byte, 10)...)
	b = append(b, salt[8:]...)
	b = append(b, 0)
	b = append(b, plugin...)
	b = append(b, 0)
	c.Seq = 0
	if err := c.WritePacket(b); err != nil {
		return err
	}
	return c.Flush()
}

var errMalformedHandshake = errors.New("malformed handshake response")

// readRawPacket reads one packet straight from nc, without read-ahead: the
// bytes after an SSL request belong to the TLS handshake.
func readRawPacket(nc net.Conn, max int) ([]byte, uint8, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(nc, hdr[:]); err != nil {
		return nil, 0, err
	}
	n := int(hdr[0]) | int(hdr[1])<<8 | int(hdr[2])<<16
	if n > max {
		return nil, 0, errMalformedHandshake
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(nc, p); err != nil {
		return nil, 0, err
	}
	return p, hdr[3], nil
}

// handshake reads the client's response to the greeting, switching to TLS
// when the client asks for it, and parses it. It does not authenticate.
func handshake(c *wire.Conn, tlsCfg *tls.Config) (*handshakeResult, error) {
	nc := c.NetConn()
	p, seq, err := readRawPacket(nc, maxHandshakePacket)
	if err != nil {
		return nil, err
	}
	c.Seq = seq + 1
	secure := false
	if len(p) >= 4 && binary.LittleEndian.Uint32(p)&mysql.CLIENT_SSL != 0 {
		if tlsCfg == nil {
			return nil, wire.Errorf(mysql.ER_NOT_SUPPORTED_AUTH_MODE, "TLS is not configured on this shardgate (connect without SSL, e.g. --ssl=0 / sslMode=DISABLED)")
		}
		if len(p) != 32 {
			return nil, errMalformedHandshake
		}
		tc := tls.Server(nc, tlsCfg)
		if err := tc.Handshake(); err != nil {
			return nil, err
		}
		c.Reset(tc)
		secure = true
		if p, err = c.ReadPacket(); err != nil {
			return nil, err
		}
	}
	res, err := parseHandshakeResponse(p)
	if err != nil {
		return nil, err
	}
	res.secure = secure
	return res, nil
}

// parseHandshakeResponse decodes a HandshakeResponse41.
func parseHandshakeResponse(p []byte) (*handshakeResult, error) {
	if len(p) < 32 {
		return nil, errMalformedHandshake
	}
	res := &handshakeResult{caps: binary.LittleEndian.Uint32(p)}
	if res.caps&mysql.CLIENT_PROTOCOL_41 == 0 {
		return nil, wire.Errorf(mysql.ER_NOT_SUPPORTED_AUTH_MODE, "Client does not support protocol 4.1; upgrade the MySQL client")
	}
	res.collation = p[8]
	pos := 32
	end := bytes.IndexByte(p[pos:], 0)
	if end < 0 {
		return nil, errMalformedHandshake
	}
	res.userName = string(p[pos : pos+end])
	pos += end + 1
	var auth []byte
	switch {
	case res.caps&mysql.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA != 0:
		n, _, w := mysql.LengthEncodedInt(p[pos:])
		if w == 0 || n > uint64(len(p)) || pos+w+int(n) > len(p) {
			return nil, errMalformedHandshake
		}
		auth = p[pos+w : pos+w+int(n)]
		pos += w + int(n)
	case res.caps&mysql.CLIENT_SECURE_CONNECTION != 0:
		if pos >= len(p) || pos+1+int(p[pos]) > len(p) {
			return nil, errMalformedHandshake
		}
		auth = p[pos+1 : pos+1+int(p[pos])]
		pos += 1 + int(p[pos])
	default:
		end := bytes.IndexByte(p[pos:], 0)
		if end < 0 {
			return nil, errMalformedHandshake
		}
		auth = p[pos : pos+end]
		pos += end + 1
	}
	res.auth = bytes.Clone(auth)
	if res.caps&mysql.CLIENT_CONNECT_WITH_DB != 0 && pos < len(p) {
		end := bytes.IndexByte(p[pos:], 0)
		if end < 0 {
			end = len(p) - pos
		}
		res.db = string(p[pos : pos+end])
		pos += end + 1
	}
	res.plugin = nativePlugin
	if res.caps&mysql.CLIENT_PLUGIN_AUTH != 0 && pos < len(p) {
		end := bytes.IndexByte(p[pos:], 0)
		if end < 0 {
			end = len(p) - pos
		}
		if name := string(p[pos : pos+end]); name != "" {
			res.plugin = name
		}
	}
	return res, nil
}

// authenticate runs the exchange of the client's plugin and returns the
// account, or ER_ACCESS_DENIED_ERROR. An unknown user goes through exactly
// the steps and computations of a known user with a wrong password (against
// dummy hashes), so neither the answer nor its timing tells them apart.
//
//   - mysql_native_password: the scramble is checked against NativeHash.
//   - caching_sha2_password: the fast path checks the scramble against
//     SHA2Hash. If that fails (wrong password, or an account configured by
//     password_hash, which has no SHA2Hash), a TLS client is asked for full
//     authentication (the password over the encrypted connection, checked
//     against either hash); a plaintext client is switched to
//     mysql_native_password (no RSA key exchange).
//   - any other plugin: switched to mysql_native_password.
func authenticate(c *wire.Conn, hs *handshakeResult, salt []byte, users map[string]*config.User) error {
	u := users[hs.userName]
	auth := hs.auth
	switch hs.plugin {
	case sha2Plugin:
		if checkSHA2(u, auth, salt) {
			if len(auth) > 0 {
				if err := writeFlush(c, sha2FastAuthOK); err != nil {
					return err
				}
			}
			hs.user, hs.method = u, sha2Plugin
			return nil
		}
		if hs.secure {
			if err := writeFlush(c, sha2FullAuthNeed); err != nil {
				return err
			}
			p, err := c.ReadPacket()
			if err != nil {
				return err
			}
			if checkCleartext(u, bytes.TrimSuffix(p, []byte{0})) {
				hs.user, hs.method = u, sha2Plugin
				return nil
			}
			return accessDenied(hs, true)
		}
	case nativePlugin:
		if checkNative(u, auth, salt) {
			hs.user, hs.method = u, nativePlugin
			return nil
		}
		return accessDenied(hs, len(auth) > 0)
	}
	// Switch to mysql_native_password with the same salt.
	sw := make([]byte, 0, 2+len(nativePlugin)+len(salt)+1)
	sw = append(sw, 0xfe)
	sw = append(sw, nativePlugin...)
	sw = append(sw, 0)
	sw = append(sw, salt...)
	sw = append(sw, 0)
	if err := writeFlush(c, sw); err != nil {
		return err
	}
	q, err := c.ReadPacket()
	if err != nil {
		return err
	}
	if checkNative(u, q, salt) {
		hs.user, hs.method = u, nativePlugin
		return nil
	}
	return accessDenied(hs, len(q) > 0 || len(auth) > 0)
}

func accessDenied(hs *handshakeResult, withPassword bool) error {
	return wire.Errorf(mysql.ER_ACCESS_DENIED_ERROR, "Access denied for user '%s' (using password: %s)", hs.userName, yesNo(withPassword))
}

func writeFlush(c *wire.Conn, p []byte) error {
	if err := c.WritePacket(p); err != nil {
		return err
	}
	return c.Flush()
}

// emptyPassword reports whether u is a known account without password.
func emptyPassword(u *config.User) bool {
	return u != nil && u.NativeHash == nil && u.SHA2Hash == nil
}

// checkNative verifies a mysql_native_password scramble. Unknown users go
// through the same computation, so timing tells nothing.
func checkNative(u *config.User, reply, salt []byte) bool {
	if emptyPassword(u) {
		return len(reply) == 0
	}
	stored := dummyNative
	known := u != nil && u.NativeHash != nil
	if known {
		stored = u.NativeHash
	}
	r := reply
	if len(r) != 20 {
		r = make([]byte, 20)
	}
	ok := mysql.CompareNativePassword(r, stored, salt)
	return subtle.ConstantTimeEq(b2i(ok), 1)&subtle.ConstantTimeEq(b2i(known), 1)&subtle.ConstantTimeEq(int32(len(reply)), 20) == 1
}

// checkSHA2 verifies a caching_sha2_password scramble:
// reply = SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) || salt), and the
// stored hash is SHA256(SHA256(pw)).
func checkSHA2(u *config.User, reply, salt []byte) bool {
	if emptyPassword(u) && len(reply) == 0 {
		return true
	}
	stored := dummySHA2
	known := u != nil && u.SHA2Hash != nil
	if known {
		stored = u.SHA2Hash
	}
	r := reply
	if len(r) != 32 {
		r = make([]byte, 32)
	}
	h := sha256.New()
	h.Write(stored)
	h.Write(salt)
	m := h.Sum(nil)
	for i := range m {
		m[i] ^= r[i]
	}
	cand := sha256.Sum256(m)
	eq := subtle.ConstantTimeCompare(cand[:], stored)
	return eq&subtle.ConstantTimeEq(b2i(known), 1)&subtle.ConstantTimeEq(int32(len(reply)), 32) == 1
}

// checkCleartext verifies a password sent over TLS (caching_sha2_password
// full authentication) against the account's SHA2 hash, or its native hash
// when it has none.
func checkCleartext(u *config.User, pw []byte) bool {
	if emptyPassword(u) {
		return len(pw) == 0
	}
	s1 := sha256.Sum256(pw)
	s2 := sha256.Sum256(s1[:])
	n1 := sha1.Sum(pw)
	n2 := sha1.Sum(n1[:])
	sha2, native := dummySHA2, dummyNative
	known := u != nil
	if known && u.SHA2Hash != nil {
		sha2 = u.SHA2Hash
	}
	if known && u.NativeHash != nil {
		native = u.NativeHash
	}
	okSHA2 := subtle.ConstantTimeCompare(s2[:], sha2) & subtle.ConstantTimeEq(b2i(known && u.SHA2Hash != nil), 1)
	okNative := subtle.ConstantTimeCompare(n2[:], native) & subtle.ConstantTimeEq(b2i(known && u.NativeHash != nil), 1)
	return (okSHA2|okNative) == 1 && len(pw) > 0
}

var (
	dummyNative = mysql.NativePasswordHash([]byte("shardgate-no-such-user"))
	dummySHA2   = func() []byte {
		s1 := sha256.Sum256([]byte("shardgate-no-such-user"))
		s2 := sha256.Sum256(s1[:])
		return s2[:]
	}()
)

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

func yesNo(b bool) string {
	if b {
		return "YES"
	}
	return "NO"
}
