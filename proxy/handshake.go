package proxy

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

// ServerVersion is what the greeting announces. The 5.5.5- prefix is how
// MariaDB tells clients it is MariaDB; they strip it.
const ServerVersion = "5.5.5-10.11.0-MariaDB-shardgate"

// serverCaps are the capabilities offered to clients. No
// CLIENT_DEPRECATE_EOF: backends are asked for none either, so result
// packets relay unchanged.
const serverCaps = mysql.CLIENT_LONG_PASSWORD | mysql.CLIENT_FOUND_ROWS | mysql.CLIENT_LONG_FLAG |
	mysql.CLIENT_CONNECT_WITH_DB | mysql.CLIENT_NO_SCHEMA | mysql.CLIENT_PROTOCOL_41 |
	mysql.CLIENT_TRANSACTIONS | mysql.CLIENT_SECURE_CONNECTION | mysql.CLIENT_MULTI_RESULTS |
	mysql.CLIENT_PS_MULTI_RESULTS | mysql.CLIENT_PLUGIN_AUTH | mysql.CLIENT_CONNECT_ATTRS |
	mysql.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | mysql.CLIENT_IGNORE_SPACE | mysql.CLIENT_INTERACTIVE

const nativePlugin = "mysql_native_password"

// handshakeResult is what the client said in its handshake response.
type handshakeResult struct {
	user      *topo.User
	userName  string
	db        string
	caps      uint32
	collation byte
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

func writeGreeting(c *wire.Conn, connID uint32, salt []byte, status uint16) error {
	b := make([]byte, 0, 128)
	b = append(b, 10)
	b = append(b, ServerVersion...)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint32(b, connID)
	b = append(b, salt[:8]...)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(serverCaps&0xffff))
	b = append(b, 45) // utf8mb4_general_ci
	b = binary.LittleEndian.AppendUint16(b, status)
	b = binary.LittleEndian.AppendUint16(b, uint16(serverCaps>>16))
	b = append(b, 21)
	b = append(b, make([]byte, 10)...)
	b = append(b, salt[8:]...)
	b = append(b, 0)
	b = append(b, nativePlugin...)
	b = append(b, 0)
	c.Seq = 0
	if err := c.WritePacket(b); err != nil {
		return err
	}
	return c.Flush()
}

var errMalformedHandshake = errors.New("malformed handshake response")

// readHandshake reads and checks the client's response; authentication
// happens before the requested database is looked at.
func readHandshake(c *wire.Conn, salt []byte, users map[string]*topo.User) (*handshakeResult, error) {
	p, err := c.ReadPacket()
	if err != nil {
		return nil, err
	}
	if len(p) < 32 {
		return nil, errMalformedHandshake
	}
	res := &handshakeResult{caps: binary.LittleEndian.Uint32(p)}
	if res.caps&mysql.CLIENT_PROTOCOL_41 == 0 {
		return nil, wire.Errorf(mysql.ER_NOT_SUPPORTED_AUTH_MODE, "Client does not support protocol 4.1; upgrade the MySQL client")
	}
	if res.caps&mysql.CLIENT_SSL != 0 && len(p) == 32 {
		return nil, wire.Errorf(mysql.ER_NOT_SUPPORTED_AUTH_MODE, "TLS is not configured on this shardgate (connect without SSL, e.g. --ssl=0 / sslMode=DISABLED)")
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
		if w == 0 || pos+w+int(n) > len(p) {
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
	auth = bytes.Clone(auth)
	if res.caps&mysql.CLIENT_CONNECT_WITH_DB != 0 && pos < len(p) {
		end := bytes.IndexByte(p[pos:], 0)
		if end < 0 {
			end = len(p) - pos
		}
		res.db = string(p[pos : pos+end])
		pos += end + 1
	}
	plugin := nativePlugin
	if res.caps&mysql.CLIENT_PLUGIN_AUTH != 0 && pos < len(p) {
		end := bytes.IndexByte(p[pos:], 0)
		if end < 0 {
			end = len(p) - pos
		}
		plugin = string(p[pos : pos+end])
	}
	if plugin != nativePlugin && plugin != "" {
		// Ask for mysql_native_password with the same salt.
		sw := append([]byte{0xfe}, nativePlugin...)
		sw = append(sw, 0)
		sw = append(sw, salt...)
		sw = append(sw, 0)
		if err := c.WritePacket(sw); err != nil {
			return nil, err
		}
		if err := c.Flush(); err != nil {
			return nil, err
		}
		q, err := c.ReadPacket()
		if err != nil {
			return nil, err
		}
		auth = bytes.Clone(q)
	}
	u := users[res.userName]
	if !checkNative(u, auth, salt) {
		return nil, wire.Errorf(mysql.ER_ACCESS_DENIED_ERROR, "Access denied for user '%s' (using password: %s)", res.userName, yesNo(len(auth) > 0))
	}
	res.user = u
	return res, nil
}

// checkNative verifies a mysql_native_password scramble. Unknown users go
// through the same computation, so timing tells nothing.
func checkNative(u *topo.User, reply, salt []byte) bool {
	stored := dummyHash
	known := u != nil
	if known {
		stored = u.NativeHash
	}
	if len(stored) == 0 { // empty password
		return known && len(reply) == 0
	}
	if len(reply) != 20 {
		_ = mysql.CompareNativePassword(make([]byte, 20), stored, salt)
		return false
	}
	ok := mysql.CompareNativePassword(reply, stored, salt)
	return subtle.ConstantTimeEq(b2i(ok), 1)&subtle.ConstantTimeEq(b2i(known), 1) == 1
}

var dummyHash = mysql.NativePasswordHash([]byte("shardgate-no-such-user"))

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

var _ = fmt.Sprintf
