package ha

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Recovery is the record of one failover or planned switch: what was done,
// step by step, how long each step took, and how it ended. It is kept in
// memory (the last 200), and in etcd with an etcd topology.
type Recovery struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"` // failover, reparent
	Keyspace   string    `json:"keyspace"`
	Shard      string    `json:"shard"`
	Proxy      string    `json:"proxy,omitempty"`
	Reason     string    `json:"reason"`
	OldPrimary string    `json:"old_primary"`
	NewPrimary string    `json:"new_primary,omitempty"`
	Term       uint64    `json:"term,omitempty"` // the new term when it succeeded
	Start      time.Time `json:"start"`
	End        time.Time `json:"end,omitempty"`
	DurationMS float64   `json:"duration_ms"`
	// Outcome: running, success, failed, skipped (another proxy or the
	// primary itself made it unnecessary), abandoned (its proxy lost the
	// lock).
	Outcome string `json:"outcome"`
	Error   string `json:"error,omitempty"`
	Steps   []Step `json:"steps"`
}

// live is a Recovery being written by its recovery.
type live struct {
	mu   sync.Mutex
	r    Recovery
	save func(r *live) // writes it to etcd (nil without)
}

// Step is one step of a recovery.
type Step struct {
	Name       string    `json:"name"`
	Start      time.Time `json:"start"`
	DurationMS float64   `json:"duration_ms"`
	OK         bool      `json:"ok"`
	Detail     string    `json:"detail,omitempty"`
}

// Recovery outcomes.
const (
	OutcomeRunning   = "running"
	OutcomeSuccess   = "success"
	OutcomeFailed    = "failed"
	OutcomeSkipped   = "skipped"
	OutcomeAbandoned = "abandoned"
)

func newRecovery(kind, keyspace, shard, proxy, reason, old string) *live {
	now := time.Now()
	return &live{r: Recovery{
		ID:   now.UTC().Format("20060102T150405.000000000Z") + "-" + strconv.FormatUint(uint64(now.UnixNano()%1e6), 36),
		Kind: kind, Keyspace: keyspace, Shard: shard, Proxy: proxy, Reason: reason, OldPrimary: old,
		Start: now, Outcome: OutcomeRunning,
	}}
}

// step runs f as a named step and records it.
func (r *live) step(name string, f func() (string, error)) error {
	start := time.Now()
	detail, err := f()
	s := Step{Name: name, Start: start, DurationMS: ms(time.Since(start)), OK: err == nil, Detail: detail}
	if err != nil {
		if detail != "" {
			s.Detail = detail + ": " + err.Error()
		} else {
			s.Detail = err.Error()
		}
	}
	r.mu.Lock()
	r.r.Steps = append(r.r.Steps, s)
	r.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func (l *live) finish(outcome string, err error, log *zap.Logger) {
	l.mu.Lock()
	r := &l.r
	r.Outcome = outcome
	r.End = time.Now()
	r.DurationMS = ms(r.End.Sub(r.Start))
	if err != nil {
		r.Error = err.Error()
	}
	c := *r
	l.mu.Unlock()
	l.persist()
	fields := []zap.Field{zap.String("id", c.ID), zap.String("kind", c.Kind), zap.String("shard", c.Keyspace+"/"+c.Shard),
		zap.String("old_primary", c.OldPrimary), zap.String("new_primary", c.NewPrimary), zap.Uint64("term", c.Term),
		zap.String("outcome", outcome), zap.Duration("took", c.End.Sub(c.Start)), zap.String("steps", l.stepSummary())}
	if err != nil {
		log.Error("ha: recovery did not complete", append(fields, zap.Error(err))...)
	} else {
		log.Info("ha: recovery finished", fields...)
	}
}

func (r *live) persist() {
	if r.save != nil {
		r.save(r)
	}
}

func (r *live) stepSummary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := ""
	for i, st := range r.r.Steps {
		if i > 0 {
			s += ", "
		}
		s += st.Name + "=" + strconv.FormatFloat(st.DurationMS, 'f', 1, 64) + "ms"
		if !st.OK {
			s += "(failed)"
		}
	}
	return s
}

// snapshot copies the record for readers.
func (r *live) snapshot() Recovery {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.r
	c.Steps = append([]Step(nil), r.r.Steps...)
	if c.Outcome == OutcomeRunning {
		c.DurationMS = ms(time.Since(c.Start))
	}
	return c
}

func (r *live) marshal() []byte {
	c := r.snapshot()
	b, _ := json.Marshal(&c)
	return b
}

func parseRecoveries(docs [][]byte) []Recovery {
	out := make([]Recovery, 0, len(docs))
	for _, d := range docs {
		var r Recovery
		if json.Unmarshal(d, &r) == nil {
			out = append(out, r)
		}
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// saver returns the function that keeps a record in etcd (nil without).
func (m *Manager) saver() func(r *live) {
	if m.cfg.Etcd == nil {
		return nil
	}
	return func(r *live) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c := r.snapshot()
		if err := m.cfg.Etcd.PutRecovery(ctx, c.Keyspace, c.Shard, c.ID, r.marshal()); err != nil {
			m.log.Warn("ha: could not store the recovery record in etcd", zap.String("id", c.ID), zap.Error(err))
		}
	}
}
