package txn

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// XID layout. Every branch shardgate starts is
//
//	XA START 'sg1-<cluster>-<proxy>-<seq>', '<keyspace/shard>', 0x73673130
//
// where <cluster> is a hash of where the decision table lives (so resolvers
// of two deployments sharing MariaDB servers leave each other's branches
// alone), <proxy> is random per process start and <seq> counts. The gtrid is
// the dtid (the decision table's key); the bqual names the shard, so that two
// shards that are databases of one server get distinct XIDs.
const (
	// FormatID is the XA formatID of shardgate's branches ("sg10").
	FormatID   = 0x73673130
	dtidPrefix = "sg1-"
	maxXIDPart = 64 // MariaDB: gtrid and bqual are at most 64 bytes each
)

// newInstanceID is the <proxy> part of the dtids of one Coordinator: random,
// so that proxies (and restarts of one) sharing a decision table never
// reuse a dtid.
func newInstanceID() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b[:])
}

// clusterTag hashes the decision table's location into 8 hex digits.
func clusterTag(addr, database string) string {
	h := fnv.New32a()
	h.Write([]byte(addr + "/" + database))
	return fmt.Sprintf("%08x", h.Sum32())
}

// formatDTID is the distributed transaction id number seq of instance in
// cluster tag.
func formatDTID(tag, instance string, seq uint64) string {
	return dtidPrefix + tag + "-" + instance + "-" + strconv.FormatUint(seq, 16)
}

// bqualOf is the branch qualifier of a shard: its pool name, restricted to
// characters that need no quoting and to 64 bytes.
func bqualOf(shard string) string {
	b := []byte(shard)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '/' || c == '.') {
			b[i] = '_'
		}
	}
	if len(b) > maxXIDPart {
		h := fnv.New32a()
		h.Write([]byte(shard))
		b = append(b[:maxXIDPart-9], fmt.Sprintf("~%08x", h.Sum32())...)
	}
	return string(b)
}

// xid is one branch's XA identifier.
type xid struct {
	gtrid string // the dtid
	bqual string
}

// String renders the xid for XA statements. Both parts hold only
// [A-Za-z0-9_/.-~], so plain quoting is safe.
func (x xid) String() string {
	return "'" + x.gtrid + "','" + x.bqual + "'," + strconv.Itoa(FormatID)
}

// parseRecoverRow decodes a row of XA RECOVER (formatID, gtrid_length,
// bqual_length, data); ok is false for rows that are not shardgate's of
// cluster tag.
func parseRecoverRow(row []string, tag string) (x xid, ok bool) {
	if len(row) < 4 || row[0] != strconv.Itoa(FormatID) {
		return x, false
	}
	gl, err1 := strconv.Atoi(row[1])
	bl, err2 := strconv.Atoi(row[2])
	data := row[3]
	if err1 != nil || err2 != nil || gl < 0 || bl < 0 || gl+bl > len(data) {
		return x, false
	}
	x = xid{gtrid: data[:gl], bqual: data[gl : gl+bl]}
	return x, strings.HasPrefix(x.gtrid, dtidPrefix+tag+"-")
}
