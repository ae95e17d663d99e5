package ha

import (
	"strconv"
	"strings"
)

// GTID is one MariaDB global transaction id, domain-server-sequence.
type GTID struct {
	Domain, Server uint32
	Seq            uint64
}

func (g GTID) String() string {
	return strconv.FormatUint(uint64(g.Domain), 10) + "-" + strconv.FormatUint(uint64(g.Server), 10) + "-" + strconv.FormatUint(g.Seq, 10)
}

// Position is a MariaDB GTID position (@@gtid_current_pos, Gtid_IO_Pos …):
// the last GTID of each replication domain.
type Position []GTID

// ParsePosition reads "0-1-100,1-2-5"; malformed entries are skipped.
func ParsePosition(s string) Position {
	var p Position
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		f := strings.Split(part, "-")
		if len(f) != 3 {
			continue
		}
		d, err1 := strconv.ParseUint(f[0], 10, 32)
		sv, err2 := strconv.ParseUint(f[1], 10, 32)
		n, err3 := strconv.ParseUint(f[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		p = append(p, GTID{Domain: uint32(d), Server: uint32(sv), Seq: n})
	}
	return p
}

// In returns the position's GTID in domain (ok false when it has none).
func (p Position) In(domain uint32) (GTID, bool) {
	for _, g := range p {
		if g.Domain == domain {
			return g, true
		}
	}
	return GTID{}, false
}

// Seq is the sequence number reached in domain (0 when none).
func (p Position) Seq(domain uint32) uint64 {
	g, _ := p.In(domain)
	return g.Seq
}

func (p Position) String() string {
	parts := make([]string, len(p))
	for i, g := range p {
		parts[i] = g.String()
	}
	return strings.Join(parts, ",")
}

// errant reports whether a replica has written transactions of its own in
// domain: its binary log ends with a GTID of its own server id past what it
// replicated. Such a replica has diverged from its primary and must not be
// promoted (go-mysql's MariadbGTIDSet.Contain compares sequence numbers
// only, so it cannot see this).
func errant(binlog, replicated Position, serverID, domain uint32) bool {
	b, ok := binlog.In(domain)
	if !ok || b.Server != serverID {
		return false
	}
	r, _ := replicated.In(domain)
	return b.Seq > r.Seq || (b.Seq == r.Seq && r.Server != serverID)
}
