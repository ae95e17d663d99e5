package workflow

import (
	"time"
)

// Types of workflow.
const (
	TypeReshard    = "reshard"
	TypeMoveTables = "movetables"
)

// Phase is where a workflow stands.
type Phase string

// Phases. Traffic is on the sources in copying, running and reversed, on
// the targets in switched and completed.
const (
	PhaseCopying   Phase = "copying"   // rows are copied from a consistent snapshot of each source
	PhaseRunning   Phase = "running"   // binlog streams apply every source change to the targets
	PhaseSwitched  Phase = "switched"  // traffic on the targets; reverse streams keep the sources up to date
	PhaseReversed  Phase = "reversed"  // traffic back on the sources after a switch; streams run forward again
	PhaseCompleted Phase = "completed" // the old copies and the reverse streams are gone
	PhaseCancelled Phase = "cancelled" // stopped before a switch; the targets' copies are dropped
	PhaseError     Phase = "error"     // stopped on an error the operator must look at (Workflow.Error)
)

// onSources reports whether traffic is on the sources in phase p.
func (p Phase) onSources() bool {
	return p == PhaseCopying || p == PhaseRunning || p == PhaseReversed
}

func (p Phase) terminal() bool { return p == PhaseCompleted || p == PhaseCancelled }

// Workflow is a workflow's record in etcd (P/wf/state/<keyspace>/<name>).
// Its definition is set at creation; the proxy that runs it changes the
// rest, and commands reach it through Request.
type Workflow struct {
	Name           string   `json:"name"`
	Type           string   `json:"type"`
	Keyspace       string   `json:"keyspace"` // the target keyspace
	SourceKeyspace string   `json:"source_keyspace"`
	SourceShards   []string `json:"source_shards"`
	TargetShards   []string `json:"target_shards"`
	// Tables are the moving tables (as named on the sources).
	Tables []string `json:"tables"`
	// Sequences: MoveTables of a table with an AUTO_INCREMENT column into a
	// sharded keyspace gives it a sequence in the global keyspace
	// ("keyspace.table"), bumped above the table's ids at every switch.
	Sequences map[string]string `json:"sequences,omitempty"`
	// Created lists what creation added, which cancel takes away: tables
	// made on the targets, vschema entries, sequence tables.
	AddedVSchema []string `json:"added_vschema,omitempty"`

	Phase Phase  `json:"phase"`
	Error string `json:"error,omitempty"`
	// Stopped is the phase a workflow in phase error stopped in: start
	// takes it back there.
	Stopped Phase     `json:"stopped,omitempty"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	// Runner is the proxy that runs the workflow now.
	Runner string `json:"runner,omitempty"`

	// Request is the command waiting for the runner; Results keep the last
	// ones done.
	Request *Request  `json:"request,omitempty"`
	Results []*Result `json:"results,omitempty"`
	// Switching is set while a traffic switch holds the moving tables
	// (every proxy acknowledges it under P/wf/ack/…).
	Switching *Switching `json:"switching,omitempty"`
	// Switches are the last traffic switches, with their timings.
	Switches []*SwitchRecord `json:"switches,omitempty"`
	VDiff    *VDiffReport    `json:"vdiff,omitempty"`
}

// Request is a command for the proxy that runs the workflow.
type Request struct {
	ID   string            `json:"id"`
	Verb string            `json:"verb"` // vdiff, switchtraffic, reversetraffic, complete, cancel, start
	Args map[string]string `json:"args,omitempty"`
	By   string            `json:"by,omitempty"` // the proxy (and user) that asked
	At   time.Time         `json:"at"`
}

// Result is what became of a Request.
type Result struct {
	ID      string    `json:"id"`
	Verb    string    `json:"verb"`
	OK      bool      `json:"ok"`
	Error   string    `json:"error,omitempty"`
	Message string    `json:"message,omitempty"`
	Done    time.Time `json:"done"`
}

// Switching is a traffic switch in progress.
type Switching struct {
	ID        string    `json:"id"`
	Direction string    `json:"direction"` // "forward" (to the targets) or "reverse"
	Started   time.Time `json:"started"`
	// Keyspaces whose documents hold the moving tables; Shards are the
	// serving shards whose pools each proxy waits to drain ("ks/shard").
	Keyspaces []string `json:"keyspaces"`
	Shards    []string `json:"shards"`
}

// SwitchRecord is one traffic switch, as it went.
type SwitchRecord struct {
	ID        string             `json:"id"`
	Direction string             `json:"direction"`
	Started   time.Time          `json:"started"`
	OK        bool               `json:"ok"`
	Error     string             `json:"error,omitempty"`
	Steps     map[string]float64 `json:"steps_ms"`
	// HeldMS is how long statements were held: from the hold's write to
	// the flip's (or the abort's).
	HeldMS     float64  `json:"held_ms"`
	DurationMS float64  `json:"duration_ms"`
	NoAck      []string `json:"no_ack,omitempty"` // proxies that did not acknowledge the hold in time
}

// TableCopy is the copy progress of one table from one source.
type TableCopy struct {
	LastPK []string `json:"last_pk,omitempty"` // primary key of the last row copied (text)
	Rows   int64    `json:"rows"`
	Done   bool     `json:"done,omitempty"`
}

// StreamState is one stream's record in etcd
// (P/wf/stream/<keyspace>/<name>/<id>): the copy from its source and its
// binlog position.
type StreamState struct {
	ID        string `json:"id"`
	Direction string `json:"direction"` // forward: source shard to targets; reverse: target shard to sources
	Source    string `json:"source"`    // keyspace/shard the stream reads
	// Start is the position the binlog stream starts from after the copy:
	// taken before the first snapshot when no XA transaction was prepared.
	Start  string                `json:"start,omitempty"`
	Copy   map[string]*TableCopy `json:"copy,omitempty"`
	Copied bool                  `json:"copied,omitempty"`
	// Pos is where the stream resumes: its last applied position, or the
	// position before the oldest XA transaction still prepared.
	Pos          string    `json:"pos,omitempty"`
	Applied      string    `json:"applied,omitempty"`
	LagSeconds   float64   `json:"lag_seconds"`
	Transactions int64     `json:"transactions"`
	Rows         int64     `json:"rows"`
	Running      bool      `json:"running"`
	Error        string    `json:"error,omitempty"`
	Updated      time.Time `json:"updated"`
}

// VDiffReport is the result of a VDiff.
type VDiffReport struct {
	Started      time.Time    `json:"started"`
	DurationMS   float64      `json:"duration_ms"`
	RowsCompared int64        `json:"rows_compared"`
	Mismatched   int64        `json:"mismatched"`
	ExtraSource  int64        `json:"extra_source"` // rows on the sources missing on the targets
	ExtraTarget  int64        `json:"extra_target"` // rows on the targets missing on the sources
	Misplaced    int64        `json:"misplaced"`    // target rows on a shard their keyspace id does not name
	RowsPerSec   float64      `json:"rows_per_second"`
	Tables       []VDiffTable `json:"tables"`
	Positions    []string     `json:"positions,omitempty"` // the consistent point (per source)
	Error        string       `json:"error,omitempty"`
}

// VDiffTable is one table's part of a VDiff, with up to maxDiffKeys keys of
// each kind of difference.
type VDiffTable struct {
	Table        string    `json:"table"`
	RowsCompared int64     `json:"rows_compared"`
	Mismatched   int64     `json:"mismatched"`
	ExtraSource  int64     `json:"extra_source"`
	ExtraTarget  int64     `json:"extra_target"`
	Misplaced    int64     `json:"misplaced"`
	Keys         []DiffKey `json:"keys,omitempty"`
}

// DiffKey is one differing row: its primary key and what differs.
type DiffKey struct {
	Kind  string   `json:"kind"` // mismatched, extra_source, extra_target, misplaced
	PK    []string `json:"pk"`
	Shard string   `json:"shard,omitempty"`
	Info  string   `json:"info,omitempty"`
}

const maxDiffKeys = 20

// Status is what `show` reports: the record, its streams and totals.
type Status struct {
	*Workflow
	Streams    []*StreamState `json:"streams"`
	RowsCopied int64          `json:"rows_copied"`
	LagSeconds float64        `json:"lag_seconds"`
	// TrafficOn is "sources" or "targets".
	TrafficOn string `json:"traffic_on"`
}

// LastSwitch is the last traffic switch (nil when none ran).
func (s *Status) LastSwitch() *SwitchRecord {
	if len(s.Switches) == 0 {
		return nil
	}
	return s.Switches[len(s.Switches)-1]
}
