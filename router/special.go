package router

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/shardgate/shardgate/router/engine"
	"github.com/shardgate/shardgate/router/planner"
	"github.com/shardgate/shardgate/router/sqlval"
)

// shardgate's own statements, which the tidb parser does not know, are
// recognised here and only here, before parsing: VEXPLAIN, SHOW VSCHEMA,
// SHOW SHARDS, NEXT VALUE FOR, USE keyspace@replica, SHOW TRANSACTIONS and
// SELECT @@transaction_mode. Every other statement is parsed.

// planSpecial plans shardgate's own statements; nil when sql is not one.
func (vc *vcursor) planSpecial(sql string) (*planner.Plan, error) {
	w := firstWord(sql)
	if strings.EqualFold(w, "vexplain") || strings.EqualFold(w, "explain") {
		if plan, ok := vc.planVExplain(sql); ok {
			return plan, nil
		}
	}
	switch {
	case strings.EqualFold(w, "use"):
		if plan := vc.planUseTarget(sql); plan != nil { // USE ks@replica (target.go)
			return plan, nil
		}
	case isTransactionsStatement(sql): // SHOW TRANSACTIONS, SELECT @@transaction_mode (transactions.go)
		return vc.planTransactions(sql), nil
	case strings.EqualFold(w, "show"):
		if m := reShowVSchema.FindStringSubmatch(sql); m != nil {
			ks, err := planner.KeyspaceNamed(planEnv{vc}, "")
			if err != nil {
				return nil, err
			}
			if strings.EqualFold(m[1], "tables") {
				return localPlan(planner.KindShow, &showVSchemaTables{ks: ks}), nil
			}
			return localPlan(planner.KindShow, &showVSchemaVindexes{ks: ks}), nil
		}
		if reShowShards.MatchString(sql) {
			return localPlan(planner.KindShow, showShards{}), nil
		}
	case strings.EqualFold(w, "select"):
		if m := reNextValues.FindStringSubmatch(sql); m != nil {
			ksName, table := vc.s.Keyspace, m[2]
			if m[3] != "" {
				ksName, table = m[2], m[3]
			}
			n := engine.ValueRef{Bind: 0}
			if m[1] != "?" {
				v, _ := strconv.Atoi(m[1])
				n = engine.ValueRef{Bind: -1, Lit: sqlval.Value{Kind: sqlval.Int, Raw: strconv.Itoa(v)}}
			}
			return vc.nextvalPlan(ksName, table, n, "nextval")
		}
		if m := reNextValueFor.FindStringSubmatch(sql); m != nil {
			a, b := m[2]+m[4], m[3]+m[5]
			ksName, table := "", a
			if b != "" {
				ksName, table = a, b
			}
			one := engine.ValueRef{Bind: -1, Lit: sqlval.Value{Kind: sqlval.Int, Raw: "1"}}
			return vc.nextvalPlan(ksName, table, one, m[1])
		}
	}
	return nil, nil
}

// Statements the tidb parser does not know are recognised before parsing.
var (
	reShowVSchema  = regexp.MustCompile(`(?i)^\s*show\s+vschema\s+(tables|vindexes)\s*;?\s*$`)
	reShowShards   = regexp.MustCompile(`(?i)^\s*show\s+(vitess_shards|shards)\s*;?\s*$`)
	reNextValueFor = regexp.MustCompile("(?i)^\\s*select\\s+(next\\s+value\\s+for\\s+`?([\\w$]+)`?(?:\\.`?([\\w$]+)`?)?|nextval\\s*\\(\\s*`?([\\w$]+)`?(?:\\.`?([\\w$]+)`?)?\\s*\\))\\s*;?\\s*$")
	reNextValues   = regexp.MustCompile("(?i)^\\s*select\\s+next\\s+(\\d+|\\?)\\s+values?\\s+from\\s+`?([\\w$]+)`?(?:\\.`?([\\w$]+)`?)?\\s*;?\\s*$")
)

// VEXPLAIN PLAN / EXPLAIN FORMAT=shardgate show a statement's plan;
// VEXPLAIN QUERIES runs it and lists every query sent to each shard. The
// tidb parser does not know them: they are recognised before parsing.
var reVExplain = regexp.MustCompile(`(?is)^\s*(?:vexplain(?:\s+(plan|queries|all))?|explain\s+format\s*=\s*['"]?shardgate['"]?)\s+(.+?)\s*;?\s*$`)

// reUseTarget is USE ks@replica written without backquotes, which the
// parser does not take (the mariadb CLI's "use" sends COM_INIT_DB instead).
var reUseTarget = regexp.MustCompile("(?i)^\\s*use\\s+`?([^`\\s;@]+@(?:replica|primary))`?\\s*;?\\s*$")

var (
	reShowTransactions = regexp.MustCompile(`(?i)^\s*show\s+(?:full\s+)?(?:distributed\s+)?transactions\s*;?\s*$`)
	reSelectTxMode     = regexp.MustCompile("(?i)^\\s*select\\s+@@(?:session\\.)?`?transaction_mode`?\\s*;?\\s*$")
)

// isTransactionsStatement reports SHOW TRANSACTIONS and SELECT
// @@transaction_mode, which planTransactions answers.
func isTransactionsStatement(sql string) bool {
	return reShowTransactions.MatchString(sql) || reSelectTxMode.MatchString(sql)
}
