package config

import "time"

// Defaults of the workflow section.
const (
	DefaultCopyChunkRows     = 5000
	DefaultCopyThrottle      = 1.0
	DefaultCopyLoadThreshold = 50
	DefaultSwitchTimeout     = time.Second
	DefaultSwitchMaxLag      = 5 * time.Second
)

// WorkflowConfig is the workflow section: how online workflows (Reshard,
// MoveTables) copy, stream and switch.
type WorkflowConfig struct {
	// User and Password are the account the binlog streams log in with
	// (REPLICATION SLAVE on every server a workflow reads; default: each
	// shard's own user). The copy, the appliers and the switch use the
	// shards' account like the proxy's own work.
	User, Password string
	// CopyChunkRows is how many rows the copier reads per primary-key chunk.
	CopyChunkRows int
	// CopyThrottle: while the source serves other queries (more than
	// CopyLoadThreshold per second), the copier sleeps this many times as
	// long as its last chunk took after each chunk (1: at most half the
	// time copying; 0: never sleeps).
	CopyThrottle      float64
	CopyLoadThreshold int
	// SwitchTimeout bounds each waiting step of a traffic switch (every
	// proxy holding the tables, the fence's locks, the targets' catch-up):
	// past it the switch aborts and traffic stays where it was.
	SwitchTimeout time.Duration
	// SwitchMaxLag: a switch is refused while a stream lags more.
	SwitchMaxLag time.Duration
	// Runner: this proxy may run workflows (their copy and streams); when
	// false it only holds statements during switches and serves commands.
	Runner bool
}

type rawWorkflow struct {
	User              string   `yaml:"user"`
	Password          string   `yaml:"password"`
	CopyChunkRows     *int     `yaml:"copy_chunk_rows"`
	CopyThrottle      *float64 `yaml:"copy_throttle"`
	CopyLoadThreshold *int     `yaml:"copy_load_threshold"`
	SwitchTimeout     string   `yaml:"switch_timeout"`
	SwitchMaxLag      string   `yaml:"switch_max_lag"`
	Runner            *bool    `yaml:"runner"`
}

func (b *builder) workflow(raw *rawWorkflow) WorkflowConfig {
	w := WorkflowConfig{User: raw.User, Password: raw.Password, Runner: raw.Runner == nil || *raw.Runner}
	w.CopyChunkRows = b.positive("workflow.copy_chunk_rows", raw.CopyChunkRows, DefaultCopyChunkRows)
	if w.CopyChunkRows > 1000000 {
		b.Errorf("workflow.copy_chunk_rows", "must be at most 1000000, not %d", w.CopyChunkRows)
	}
	w.CopyThrottle = DefaultCopyThrottle
	if v := raw.CopyThrottle; v != nil {
		if *v < 0 || *v > 100 {
			b.Errorf("workflow.copy_throttle", "must be between 0 (never sleep) and 100, not %v", *v)
		} else {
			w.CopyThrottle = *v
		}
	}
	w.CopyLoadThreshold = DefaultCopyLoadThreshold
	if v := raw.CopyLoadThreshold; v != nil {
		if *v < 0 {
			b.Errorf("workflow.copy_load_threshold", "must be 0 (always throttle) or a positive number of queries per second, not %d", *v)
		} else {
			w.CopyLoadThreshold = *v
		}
	}
	w.SwitchTimeout = b.duration("workflow.switch_timeout", raw.SwitchTimeout, DefaultSwitchTimeout, false)
	w.SwitchMaxLag = b.duration("workflow.switch_max_lag", raw.SwitchMaxLag, DefaultSwitchMaxLag, false)
	return w
}
