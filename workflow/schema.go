package workflow

import (
	"context"
	"fmt"
	"strings"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/vindex"
)

// colKind is how a column's values are written back as SQL literals.
type colKind uint8

const (
	kindNumber   colKind = iota // integers, decimals, floats, year: quoted text
	kindTemporal                // date, time, datetime, timestamp: quoted text
	kindString                  // character data (charset): _charset X'…'
	kindBinary                  // binary, blob, bit, geometry: X'…'
	kindEnum                    // enum, set: text from a result, index/bitmask from the binlog
)

type column struct {
	Name     string
	DataType string // lower case: int, varchar, …
	Charset  string // character set of character columns ("" else)
	Unsigned bool
	Bits     int // width of integer types (for unsigned values the binlog gives signed)
	Kind     colKind
}

// tableInfo is one moving table as the workflow reads and writes it.
type tableInfo struct {
	Name    string // as on the source shards
	Columns []column
	PK      []int // indexes of the primary-key columns, in key order
	// Routing of rows on the destination side of a stream: Vindex maps
	// column VindexCol (Reference: every destination shard gets every row;
	// destinations of one shard (unsharded) need neither).
	VindexCol int
	Vindex    vindex.Vindex
	Reference bool
	AutoInc   string // the AUTO_INCREMENT column ("" if none)
	colList   string // `a`,`b`,… for SELECT and REPLACE
}

func kindOf(dataType, charset string) colKind {
	switch dataType {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric", "float", "double", "real", "year":
		return kindNumber
	case "date", "time", "datetime", "timestamp":
		return kindTemporal
	case "enum", "set":
		return kindEnum
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "json":
		if charset == "" || charset == "binary" {
			return kindBinary
		}
		return kindString
	}
	return kindBinary
}

func intBits(dataType string) int {
	switch dataType {
	case "tinyint":
		return 8
	case "smallint":
		return 16
	case "mediumint":
		return 24
	case "int", "integer":
		return 32
	case "bigint":
		return 64
	}
	return 0
}

// listTables returns the base tables of a database (not shardgate's own
// renamed copies), sorted.
func listTables(ctx context.Context, c *backend.Conn, db string) ([]string, error) {
	rows, err := queryStrings(ctx, c, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = "+quoteString(db)+
		" AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range rows {
		if !isFenceName(r[0]) {
			out = append(out, r[0])
		}
	}
	return out, nil
}

// tableExists reports whether db.table exists.
func tableExists(ctx context.Context, c *backend.Conn, db, table string) (bool, error) {
	rows, err := queryStrings(ctx, c, "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = "+quoteString(db)+
		" AND TABLE_NAME = "+quoteString(table))
	return len(rows) > 0, err
}

// loadTable reads a table's columns and primary key.
func loadTable(ctx context.Context, c *backend.Conn, db, table string) (*tableInfo, error) {
	rows, err := queryStrings(ctx, c, "SELECT COLUMN_NAME, LOWER(DATA_TYPE), LOWER(COLUMN_TYPE), IFNULL(CHARACTER_SET_NAME, ''), LOWER(EXTRA) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "+
		quoteString(db)+" AND TABLE_NAME = "+quoteString(table)+" ORDER BY ORDINAL_POSITION")
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: table %s.%s does not exist", c.Shard(), db, table)
	}
	t := &tableInfo{Name: table, VindexCol: -1}
	byName := map[string]int{}
	var names []string
	for i, r := range rows {
		col := column{Name: r[0], DataType: r[1], Charset: r[3], Unsigned: strings.Contains(r[2], "unsigned"), Bits: intBits(r[1])}
		col.Kind = kindOf(col.DataType, col.Charset)
		if strings.Contains(r[4], "auto_increment") {
			t.AutoInc = col.Name
		}
		t.Columns = append(t.Columns, col)
		byName[strings.ToLower(col.Name)] = i
		names = append(names, quoteID(col.Name))
	}
	t.colList = strings.Join(names, ",")
	pk, err := queryStrings(ctx, c, "SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = "+quoteString(db)+
		" AND TABLE_NAME = "+quoteString(table)+" AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX")
	if err != nil {
		return nil, err
	}
	if len(pk) == 0 {
		return nil, fmt.Errorf("table %s has no primary key: the workflow copies in primary-key order and applies changes by primary key; add one (ALTER TABLE … ADD PRIMARY KEY) before moving it", table)
	}
	for _, r := range pk {
		t.PK = append(t.PK, byName[strings.ToLower(r[0])])
	}
	return t, nil
}

// route sets how rows of t are placed on the destination keyspace ks:
// by the vindex of its vschema entry (sharded), on every shard (a
// reference table), or on its only shard.
func (t *tableInfo) route(ks *topo.Keyspace, vt *topo.Table) error {
	if !ks.Sharded {
		return nil
	}
	if vt == nil {
		return fmt.Errorf("table %s has no entry in the vschema of keyspace %s (and auto_vschema is off): add it with its column_vindexes", t.Name, ks.Name)
	}
	switch vt.Type {
	case topo.TableReference:
		t.Reference = true
		return nil
	case topo.TableSequence:
		return fmt.Errorf("table %s is a sequence table: sequences live in an unsharded keyspace and are not moved", t.Name)
	}
	for i, c := range t.Columns {
		if strings.EqualFold(c.Name, vt.Column) {
			t.VindexCol, t.Vindex = i, vt.Vindex
			return nil
		}
	}
	return fmt.Errorf("table %s has no column %s, its sharding column in the vschema of keyspace %s", t.Name, vt.Column, ks.Name)
}

// vschemaTable finds the vschema entry of table in ks, deriving one as
// auto_vschema does (hash on the first primary-key column) when it has
// none.
func vschemaTable(ks *topo.Keyspace, t *tableInfo) *topo.Table {
	if vt, ok := ks.Table(t.Name); ok {
		return vt
	}
	if ks.AutoVSchema && ks.DefaultVindex != "" {
		c := t.Columns[t.PK[0]]
		return &topo.Table{Name: t.Name, Column: strings.ToLower(c.Name), VindexName: ks.DefaultVindex, Vindex: ks.Vindexes[ks.DefaultVindex]}
	}
	return nil
}

// showCreate returns the CREATE TABLE statement of a table.
func showCreate(ctx context.Context, c *backend.Conn, db, table string) (string, error) {
	rows, err := queryStrings(ctx, c, "SHOW CREATE TABLE "+quoteID(db)+"."+quoteID(table))
	if err != nil {
		return "", err
	}
	if len(rows) == 0 || len(rows[0]) < 2 {
		return "", fmt.Errorf("%s: SHOW CREATE TABLE %s gave nothing", c.Shard(), table)
	}
	return rows[0][1], nil
}

// fencePrefix names a moving table on the side that serves no traffic
// once it has served: RENAME TABLE t TO _sg_t fences it there (a statement
// that still reaches it fails with 1146), and it is renamed back when
// traffic returns.
const fencePrefix = "_sg_"

func fenceName(table string) string { return fencePrefix + table }

func isFenceName(table string) bool { return strings.HasPrefix(table, fencePrefix) }
