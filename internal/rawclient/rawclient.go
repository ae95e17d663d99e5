// Package rawclient is a minimal MySQL protocol client for tests: the
// commands drivers do not send (COM_STATISTICS, COM_RESET_CONNECTION,
// COM_CHANGE_USER, COM_PROCESS_KILL, COM_STMT_SEND_LONG_DATA) and clients
// that stop reading half way, with every packet visible.
package rawclient

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/packet"
)

// Conn is a minimal MySQL protocol client for the commands the drivers
// do not send (COM_STATISTICS, COM_RESET_CONNECTION, COM_CHANGE_USER,
// COM_PROCESS_KILL): go-mysql's packet layer for the framing, the handshake
// (mysql_native_password) and the result parsing written here, so the test
// knows the greeting's scramble and sees every packet.
type Conn struct {
	nc        net.Conn
	pc        *packet.Conn
	Salt      []byte // the greeting's scramble
	ConnID    uint32 // the greeting's connection id
	Version   string // the greeting's server version
	Status    uint16 // status flags of the last OK/EOF
	GreetCaps uint32 // capabilities the greeting announced
	// out is the command being written, reused: a test that sends many
	// large commands (long data) measures the proxy's heap, not garbage
	// of its own client.
	out []byte
}

// Result is one response: an OK (Columns nil) or a text result set.
type Result struct {
	Affected, InsertID uint64
	Status, Warnings   uint16
	Info               string // the OK packet's human-readable info
	Columns            []string
	Rows               [][]string // NULL as "NULL"
}

// Error is an ERR packet.
type Error struct {
	Code  uint16
	State string
	Msg   string
}

func (e *Error) Error() string { return fmt.Sprintf("ERROR %d (%s): %s", e.Code, e.State, e.Msg) }

const clientCaps = mysql.CLIENT_LONG_PASSWORD | mysql.CLIENT_LONG_FLAG | mysql.CLIENT_PROTOCOL_41 | mysql.CLIENT_SECURE_CONNECTION |
	mysql.CLIENT_PLUGIN_AUTH | mysql.CLIENT_TRANSACTIONS | mysql.CLIENT_MULTI_RESULTS | mysql.CLIENT_MULTI_STATEMENTS

// Dial connects and authenticates user with mysql_native_password;
// collation is the handshake's character set byte (45 = utf8mb4_general_ci).
func Dial(addr, user, password, db string, collation byte) (*Conn, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(60 * time.Second))
	c := &Conn{nc: nc, pc: packet.NewConn(nc)}
	if err := c.handshake(user, password, db, collation); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

func (c *Conn) Close() { c.nc.Close() }

// NetConn is the socket, for deadlines.
func (c *Conn) NetConn() net.Conn { return c.nc }

// ReadPacket reads one packet of a response the caller reads itself.
func (c *Conn) ReadPacket() ([]byte, error) { return c.pc.ReadPacket() }

func (c *Conn) handshake(user, password, db string, collation byte) error {
	g, err := c.pc.ReadPacket()
	if err != nil {
		return fmt.Errorf("reading the greeting: %w", err)
	}
	if len(g) > 0 && g[0] == 0xff {
		return parseErr(g)
	}
	// protocol version, server version NUL, connection id, scramble part 1,
	// filler, capabilities (low), charset, status, capabilities (high),
	// scramble length, 10 reserved, scramble part 2 (NUL-terminated), plugin.
	if len(g) < 1 || g[0] != 10 {
		return fmt.Errorf("greeting: protocol %v", g[:1])
	}
	end := bytes.IndexByte(g[1:], 0)
	if end < 0 {
		return fmt.Errorf("greeting: no version")
	}
	c.Version = string(g[1 : 1+end])
	p := g[2+end:]
	if len(p) < 4+8+1+2+1+2+2+1+10 {
		return fmt.Errorf("greeting: short (%d bytes)", len(g))
	}
	c.ConnID = binary.LittleEndian.Uint32(p)
	c.Salt = append([]byte(nil), p[4:12]...)
	caps := uint32(binary.LittleEndian.Uint16(p[13:]))
	c.Status = binary.LittleEndian.Uint16(p[16:])
	caps |= uint32(binary.LittleEndian.Uint16(p[18:])) << 16
	c.GreetCaps = caps
	rest := p[31:]
	if i := bytes.IndexByte(rest, 0); i >= 0 {
		c.Salt = append(c.Salt, rest[:i]...)
	} else {
		c.Salt = append(c.Salt, rest...)
	}

	myCaps := uint32(clientCaps)
	if db != "" {
		myCaps |= mysql.CLIENT_CONNECT_WITH_DB
	}
	b := make([]byte, 4, 128)
	b = binary.LittleEndian.AppendUint32(b, myCaps)
	b = binary.LittleEndian.AppendUint32(b, 1<<24)
	b = append(b, collation)
	b = append(b, make([]byte, 23)...)
	b = append(b, user...)
	b = append(b, 0)
	auth := mysql.CalcNativePassword(c.Salt, []byte(password))
	b = append(b, byte(len(auth)))
	b = append(b, auth...)
	if db != "" {
		b = append(b, db...)
		b = append(b, 0)
	}
	b = append(b, "mysql_native_password"...)
	b = append(b, 0)
	if err := c.pc.WritePacket(b); err != nil {
		return err
	}
	return c.authReply(password)
}

// authReply reads the answer to a handshake response or COM_CHANGE_USER,
// following an auth switch to mysql_native_password.
func (c *Conn) authReply(password string) error {
	for {
		r, err := c.pc.ReadPacket()
		if err != nil {
			return err
		}
		switch {
		case len(r) == 0:
			return fmt.Errorf("empty auth reply")
		case r[0] == 0x00:
			_, err := c.parseOK(r)
			return err
		case r[0] == 0xff:
			return parseErr(r)
		case r[0] == 0xfe:
			// AuthSwitchRequest: plugin NUL, scramble.
			rest := r[1:]
			i := bytes.IndexByte(rest, 0)
			if i < 0 {
				return fmt.Errorf("malformed auth switch %q", r)
			}
			plugin := string(rest[:i])
			if plugin != "mysql_native_password" {
				return fmt.Errorf("auth switch to %s is not supported by this test client", plugin)
			}
			salt := bytes.TrimRight(rest[i+1:], "\x00")
			resp := append(make([]byte, 4), mysql.CalcNativePassword(salt, []byte(password))...)
			if err := c.pc.WritePacket(resp); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unexpected auth reply %q", r)
		}
	}
}

func parseErr(p []byte) error {
	e := &Error{}
	if len(p) >= 3 {
		e.Code = binary.LittleEndian.Uint16(p[1:])
	}
	msg := p[3:]
	if len(msg) >= 6 && msg[0] == '#' {
		e.State = string(msg[1:6])
		msg = msg[6:]
	}
	e.Msg = string(msg)
	return e
}

func lenenc(p []byte) (uint64, []byte, bool) {
	n, isNull, w := mysql.LengthEncodedInt(p)
	if w == 0 || w > len(p) {
		return 0, nil, false
	}
	_ = isNull
	return n, p[w:], true
}

func (c *Conn) parseOK(p []byte) (Result, error) {
	var r Result
	rest := p[1:]
	var ok bool
	if r.Affected, rest, ok = lenenc(rest); !ok {
		return r, fmt.Errorf("malformed OK %q", p)
	}
	if r.InsertID, rest, ok = lenenc(rest); !ok || len(rest) < 4 {
		return r, fmt.Errorf("malformed OK %q", p)
	}
	r.Status = binary.LittleEndian.Uint16(rest)
	r.Warnings = binary.LittleEndian.Uint16(rest[2:])
	r.Info = string(rest[4:])
	if n, after, ok := lenenc(rest[4:]); ok && n == uint64(len(after)) {
		r.Info = string(after) // sent as a length-encoded string
	}
	c.Status = r.Status
	return r, nil
}

// Command sends one command packet (a new sequence).
func (c *Conn) Command(cmd byte, arg []byte) error {
	b := append(c.out[:0], 0, 0, 0, 0, cmd)
	return c.write(append(b, arg...))
}

// write sends the command packet b (its 4 header bytes reserved) and keeps
// b's array for the next one.
func (c *Conn) write(b []byte) error {
	c.out = b
	c.pc.ResetSequence()
	return c.pc.WritePacket(b)
}

// ReadResult reads one response to COM_QUERY (or the next result of a
// multi-statement query).
func (c *Conn) ReadResult() (Result, error) {
	p, err := c.pc.ReadPacket()
	if err != nil {
		return Result{}, err
	}
	switch {
	case len(p) == 0:
		return Result{}, fmt.Errorf("empty packet")
	case p[0] == 0x00:
		return c.parseOK(p)
	case p[0] == 0xff:
		return Result{}, parseErr(p)
	}
	n, _, ok := lenenc(p)
	if !ok {
		return Result{}, fmt.Errorf("malformed column count %q", p)
	}
	var r Result
	for i := uint64(0); i < n; i++ {
		def, err := c.pc.ReadPacket()
		if err != nil {
			return r, err
		}
		// catalog, schema, table, org_table, name
		rest := def
		var name []byte
		for j := 0; j < 5; j++ {
			l, after, ok := lenenc(rest)
			if !ok || uint64(len(after)) < l {
				return r, fmt.Errorf("malformed column definition %q", def)
			}
			name, rest = after[:l], after[l:]
		}
		r.Columns = append(r.Columns, string(name))
	}
	if p, err = c.pc.ReadPacket(); err != nil || len(p) == 0 || p[0] != 0xfe {
		return r, fmt.Errorf("want EOF after the column definitions, got %q, %v", p, err)
	}
	for {
		p, err := c.pc.ReadPacket()
		if err != nil {
			return r, err
		}
		if len(p) > 0 && p[0] == 0xff {
			return r, parseErr(p)
		}
		if len(p) > 0 && p[0] == 0xfe && len(p) < 9 {
			if len(p) >= 5 {
				r.Warnings = binary.LittleEndian.Uint16(p[1:])
				r.Status = binary.LittleEndian.Uint16(p[3:])
				c.Status = r.Status
			}
			return r, nil
		}
		row := make([]string, 0, n)
		rest := p
		for j := uint64(0); j < n; j++ {
			if len(rest) > 0 && rest[0] == 0xfb {
				row = append(row, "NULL")
				rest = rest[1:]
				continue
			}
			l, after, ok := lenenc(rest)
			if !ok || uint64(len(after)) < l {
				return r, fmt.Errorf("malformed row %q", p)
			}
			row = append(row, string(after[:l]))
			rest = after[l:]
		}
		r.Rows = append(r.Rows, row)
	}
}

// Query runs one statement with COM_QUERY and returns its (first) result.
func (c *Conn) Query(sql string) (Result, error) {
	if err := c.Command(mysql.COM_QUERY, []byte(sql)); err != nil {
		return Result{}, err
	}
	r, err := c.ReadResult()
	for err == nil && r.Status&mysql.SERVER_MORE_RESULTS_EXISTS != 0 {
		_, err = c.ReadResult()
	}
	return r, err
}

// Value runs a one-value query; errors come back as "error: ...".
func (c *Conn) Value(sql string) string {
	r, err := c.Query(sql)
	if err != nil {
		return "error: " + err.Error()
	}
	if len(r.Rows) != 1 || len(r.Rows[0]) != 1 {
		return fmt.Sprintf("not one value: %v", r.Rows)
	}
	return r.Rows[0][0]
}

// Simple sends a command answered by one OK or ERR packet.
func (c *Conn) Simple(cmd byte, arg []byte) (Result, error) {
	if err := c.Command(cmd, arg); err != nil {
		return Result{}, err
	}
	p, err := c.pc.ReadPacket()
	if err != nil {
		return Result{}, err
	}
	switch {
	case len(p) > 0 && p[0] == 0x00:
		return c.parseOK(p)
	case len(p) > 0 && p[0] == 0xff:
		return Result{}, parseErr(p)
	}
	return Result{}, fmt.Errorf("unexpected reply %q", p)
}

// Statistics sends COM_STATISTICS and returns the server's string.
func (c *Conn) Statistics() (string, error) {
	if err := c.Command(mysql.COM_STATISTICS, nil); err != nil {
		return "", err
	}
	p, err := c.pc.ReadPacket()
	if err != nil {
		return "", err
	}
	if len(p) > 0 && p[0] == 0xff {
		return "", parseErr(p)
	}
	return string(p), nil
}

// Prepare sends COM_STMT_PREPARE and returns the statement id and number of
// parameters.
func (c *Conn) Prepare(sql string) (uint32, int, error) {
	if err := c.Command(mysql.COM_STMT_PREPARE, []byte(sql)); err != nil {
		return 0, 0, err
	}
	p, err := c.pc.ReadPacket()
	if err != nil {
		return 0, 0, err
	}
	if len(p) > 0 && p[0] == 0xff {
		return 0, 0, parseErr(p)
	}
	if len(p) < 12 || p[0] != 0 {
		return 0, 0, fmt.Errorf("malformed prepare OK %q", p)
	}
	id := binary.LittleEndian.Uint32(p[1:])
	cols := int(binary.LittleEndian.Uint16(p[5:]))
	params := int(binary.LittleEndian.Uint16(p[7:]))
	for _, n := range []int{params, cols} {
		if n == 0 {
			continue
		}
		for i := 0; i <= n; i++ { // n definitions and an EOF
			if _, err := c.pc.ReadPacket(); err != nil {
				return 0, 0, err
			}
		}
	}
	return id, params, nil
}

// executeInt runs a prepared statement with BIGINT parameters and returns
// the first column of its rows (binary protocol, BIGINT or string columns
// only: the test reads "SELECT ? + 1" and the like as raw bytes).
func (c *Conn) ExecuteInts(id uint32, args ...int64) ([][]byte, error) {
	b := binary.LittleEndian.AppendUint32(nil, id)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 1)
	if len(args) > 0 {
		b = append(b, make([]byte, (len(args)+7)/8)...)
		b = append(b, 1)
		for range args {
			b = append(b, mysql.MYSQL_TYPE_LONGLONG, 0)
		}
		for _, a := range args {
			b = binary.LittleEndian.AppendUint64(b, uint64(a))
		}
	}
	if err := c.Command(mysql.COM_STMT_EXECUTE, b); err != nil {
		return nil, err
	}
	p, err := c.pc.ReadPacket()
	if err != nil {
		return nil, err
	}
	switch {
	case len(p) > 0 && p[0] == 0xff:
		return nil, parseErr(p)
	case len(p) > 0 && p[0] == 0x00:
		_, err := c.parseOK(p)
		return nil, err
	}
	n, _, _ := lenenc(p)
	for i := uint64(0); i <= n; i++ {
		if _, err := c.pc.ReadPacket(); err != nil {
			return nil, err
		}
	}
	var out [][]byte
	for {
		p, err := c.pc.ReadPacket()
		if err != nil {
			return out, err
		}
		if len(p) > 0 && p[0] == 0xff {
			return out, parseErr(p)
		}
		if len(p) > 0 && p[0] == 0xfe && len(p) < 9 {
			return out, nil
		}
		out = append(out, append([]byte(nil), p...))
	}
}

// ChangeUser sends COM_CHANGE_USER (scrambled with the greeting's salt, as
// the protocol says) and reads the answer.
func (c *Conn) ChangeUser(user, password, db string, collation byte) error {
	b := []byte(user)
	b = append(b, 0)
	auth := mysql.CalcNativePassword(c.Salt, []byte(password))
	b = append(b, byte(len(auth)))
	b = append(b, auth...)
	b = append(b, db...)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(collation))
	b = append(b, "mysql_native_password"...)
	b = append(b, 0)
	if err := c.Command(mysql.COM_CHANGE_USER, b); err != nil {
		return err
	}
	return c.authReply(password)
}

// rows renders rows for messages.
func (r Result) String() string {
	var parts []string
	for _, row := range r.Rows {
		parts = append(parts, strings.Join(row, "|"))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

// Param is one parameter of executeParams: a MySQL type and its binary
// Value (nil with long data: the value was sent by COM_STMT_SEND_LONG_DATA).
type Param struct {
	Type  byte
	Value []byte // the binary protocol's bytes; nil: NULL (or sent as long data)
}

func LongLong(v int64) Param {
	return Param{mysql.MYSQL_TYPE_LONGLONG, binary.LittleEndian.AppendUint64(nil, uint64(v))}
}

func VarString(s string) Param {
	return Param{mysql.MYSQL_TYPE_VAR_STRING, append(mysql.PutLengthEncodedInt(uint64(len(s))), s...)}
}

// ExecuteParams runs a prepared statement that returns no rows.
func (c *Conn) ExecuteParams(id uint32, params ...Param) (Result, error) {
	b := binary.LittleEndian.AppendUint32(nil, id)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 1)
	if len(params) > 0 {
		b = append(b, make([]byte, (len(params)+7)/8)...)
		b = append(b, 1)
		for _, p := range params {
			b = append(b, p.Type, 0)
		}
		for _, p := range params {
			b = append(b, p.Value...)
		}
	}
	if err := c.Command(mysql.COM_STMT_EXECUTE, b); err != nil {
		return Result{}, err
	}
	p, err := c.pc.ReadPacket()
	if err != nil {
		return Result{}, err
	}
	switch {
	case len(p) > 0 && p[0] == 0xff:
		return Result{}, parseErr(p)
	case len(p) > 0 && p[0] == 0x00:
		return c.parseOK(p)
	}
	return Result{}, fmt.Errorf("executeParams: the statement returned rows")
}

// SendLongData sends COM_STMT_SEND_LONG_DATA (no response).
func (c *Conn) SendLongData(id uint32, paramID uint16, data []byte) error {
	b := append(c.out[:0], 0, 0, 0, 0, mysql.COM_STMT_SEND_LONG_DATA)
	b = binary.LittleEndian.AppendUint32(b, id)
	b = binary.LittleEndian.AppendUint16(b, paramID)
	return c.write(append(b, data...))
}

// ResetStmt sends COM_STMT_RESET (answered by OK).
func (c *Conn) ResetStmt(id uint32) error {
	_, err := c.Simple(mysql.COM_STMT_RESET, binary.LittleEndian.AppendUint32(nil, id))
	return err
}

// StartQuery sends a query and reads its column definitions and at most
// rows rows, leaving the rest of the result unread (a client that stops
// reading, then goes away).
func (c *Conn) StartQuery(sql string, rows int) error {
	if err := c.Command(mysql.COM_QUERY, []byte(sql)); err != nil {
		return err
	}
	p, err := c.pc.ReadPacket()
	if err != nil {
		return err
	}
	if len(p) > 0 && p[0] == 0xff {
		return parseErr(p)
	}
	if len(p) > 0 && p[0] == 0x00 {
		return fmt.Errorf("startQuery: %s returned no rows", sql)
	}
	n, _, _ := lenenc(p)
	for i := 0; i < int(n)+1+rows; i++ {
		p, err := c.pc.ReadPacket()
		if err != nil {
			return err
		}
		if len(p) > 0 && p[0] == 0xff {
			return parseErr(p)
		}
	}
	return nil
}
