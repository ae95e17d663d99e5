package workflow

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/wire"
)

// The workflow's own SQL: every statement is built here from names read
// from the shards' information_schema and values read from the shards,
// quoted, never from a client's text (the trust model in
// docs/operations.md).

// quoteID quotes an identifier with backquotes.
func quoteID(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// quoteString quotes a string as a SQL literal (the workflow's
// connections never run with NO_BACKSLASH_ESCAPES: sessionSettings).
func quoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			b.WriteString(`\'`)
		case '\\':
			b.WriteString(`\\`)
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case 0x1a:
			b.WriteString(`\Z`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// appendHex appends X'<hex of v>'.
func appendHex(dst []byte, v []byte) []byte {
	dst = append(dst, "X'"...)
	n := len(dst)
	dst = append(dst, make([]byte, hex.EncodedLen(len(v)))...)
	hex.Encode(dst[n:], v)
	return append(dst, '\'')
}

// sessionSettings is what every workflow connection runs with: values
// cross as bytes (no charset conversion, NAMES binary), TIMESTAMP columns
// in UTC on both sides, a 0 in an AUTO_INCREMENT column kept, no foreign
// key checks (rows arrive in primary-key order, not in dependency order,
// and a REPLACE must not cascade), no strictness beyond the source's.
const sessionSettings = "SET NAMES binary, time_zone = '+00:00', sql_mode = 'NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION', foreign_key_checks = 0, sql_log_bin = 1"

// settingsTag marks a connection that runs with sessionSettings
// (backend.Conn.Settings; the workflow's pools are its own).
const settingsTag = "shardgate-workflow"

// prepare applies sessionSettings to a connection of the workflow's pools.
func prepare(ctx context.Context, c *backend.Conn) error {
	if c.Settings == settingsTag {
		return nil
	}
	// sql_log_bin needs a privilege the shard account may lack: set it
	// only if the rest works without it.
	if _, err := c.Exec(ctx, strings.TrimSuffix(sessionSettings, ", sql_log_bin = 1")); err != nil {
		return err
	}
	c.Settings = settingsTag
	return nil
}

// exec runs one statement and wraps its error with where it ran.
func exec(ctx context.Context, c *backend.Conn, sql string) error {
	if _, err := c.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", c.Shard(), err)
	}
	return nil
}

// queryStrings runs a small query and wraps its error with where it ran.
func queryStrings(ctx context.Context, c *backend.Conn, sql string) ([][]string, error) {
	rows, err := c.QueryStrings(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Shard(), err)
	}
	return rows, nil
}

// errCode returns the MySQL error code of err (0 when it is none).
func errCode(err error) uint16 {
	if err == nil {
		return 0
	}
	var we *wire.Error
	if e, ok := asWireError(err); ok {
		we = e
		return we.Code
	}
	return 0
}

func asWireError(err error) (*wire.Error, bool) {
	for err != nil {
		if e, ok := err.(*wire.Error); ok {
			return e, true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return nil, false
		}
		err = u.Unwrap()
	}
	return nil, false
}

// Error codes the workflow looks at.
const (
	errNoSuchTable   = mysql.ER_NO_SUCH_TABLE     // 1146
	errLockWait      = mysql.ER_LOCK_WAIT_TIMEOUT // 1205
	errLockDeadlock  = mysql.ER_LOCK_DEADLOCK     // 1213
	errTableExists   = mysql.ER_TABLE_EXISTS_ERROR
	errXAERRMFail    = 1399
	errUnknownSystem = mysql.ER_UNKNOWN_SYSTEM_VARIABLE
)
