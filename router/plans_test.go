package router

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/shardgate/shardgate/wire"
)

// TestPlans checks the plans of the statements in testdata/plans/*.txt
// without any database: each case's plan as `VEXPLAIN PLAN` prints it, or
// the error the statement is refused with. The planner is reached only
// through newPlanExplainer (plans_adapter_test.go).
//
// A case file is a list of blocks separated by lines `---`:
//
//	# why the case is there (any number of comment lines)
//	vschema: two            testdata/plans/vschemas/two.yaml
//	keyspace: customer      the session's keyspace; empty: none
//	user: reporting         the session's user (optional: none)
//	sql: SELECT ...         one line
//	plan:                   the expected plan, one line per line of VEXPLAIN PLAN
//	Route EqualUnique ...
//
// or, for a refusal, `error: 1235 not supported by shardgate: ...` instead
// of `plan:` and its lines. A first block without `sql:` sets the defaults
// of vschema, keyspace and user for the file's cases.
//
// `go test ./router -run TestPlans -update` rewrites the expectations with
// what the planner says today (comments and the other lines are kept):
// read the diff before committing it.
var updatePlans = flag.Bool("update", false, "rewrite the expectations of testdata/plans/*.txt with today's plans")

const plansDir = "testdata/plans"

// planCase is one block of a case file.
type planCase struct {
	file      string
	line      int // of the block's sql: line
	head      []string
	vschema   string
	keyspace  string
	user      string
	sql       string
	want      string // "plan:\n..." or "error: ..."
	isDefault bool   // the defaults block
}

func TestPlans(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(plansDir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no case files in %s", plansDir)
	}
	explainers := map[string]planExplainer{}
	explainerFor := func(name string) (planExplainer, error) {
		if e, ok := explainers[name]; ok {
			return e, nil
		}
		e, closeFn, err := newPlanExplainer(filepath.Join(plansDir, "vschemas", name+".yaml"))
		if err != nil {
			return nil, err
		}
		t.Cleanup(closeFn)
		explainers[name] = e
		return e, nil
	}
	total := 0
	for _, file := range files {
		cases, err := readPlanCases(file)
		if err != nil {
			t.Fatal(err)
		}
		changed := false
		for _, c := range cases {
			if c.isDefault {
				continue
			}
			total++
			explain, err := explainerFor(c.vschema)
			if err != nil {
				t.Fatalf("%s:%d: vschema %q: %v", c.file, c.line, c.vschema, err)
			}
			got := trimLines(planResult(explain(c.keyspace, c.user, c.sql)))
			if strings.Contains(got, "127.0.0.1:1") {
				t.Errorf("%s:%d: planning reached a shard (leave this case out, or make the vschema say what the shard would):\n  sql:  %s\n  got:  %s",
					c.file, c.line, c.sql, got)
			}
			if got == c.want {
				continue
			}
			if *updatePlans {
				c.want = got
				changed = true
				continue
			}
			t.Errorf("%s:%d: plan differs\n  sql:  %s\n  want:\n%s\n  got:\n%s", c.file, c.line, c.sql, indent(c.want), indent(got))
		}
		if changed {
			if err := writePlanCases(file, cases); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: expectations rewritten", file)
		}
	}
	t.Logf("%d plan cases in %d files", total, len(files))
}

// planResult is the expectation text of a plan or an error.
func planResult(plan string, err error) string {
	if err != nil {
		var we *wire.Error
		if errors.As(err, &we) {
			return fmt.Sprintf("error: %d %s", we.Code, we.Message)
		}
		return "error: " + err.Error()
	}
	return "plan:\n" + plan
}

// trimLines drops trailing blanks of every line (the case files keep none).
func trimLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\r")
	}
	return strings.Join(lines, "\n")
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// readPlanCases parses a case file.
func readPlanCases(file string) ([]*planCase, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var cases []*planCase
	var def planCase
	var c *planCase
	var body []string // expectation lines
	inPlan := false
	start := func(line int) {
		c = &planCase{file: file, line: line, vschema: def.vschema, keyspace: def.keyspace, user: def.user}
		body, inPlan = nil, false
	}
	finish := func(line int) error {
		if c == nil {
			return nil
		}
		defer func() { c = nil }()
		if c.sql == "" {
			if body != nil || len(cases) > 0 {
				return fmt.Errorf("%s:%d: a block without sql: (only the first block may set defaults)", file, line)
			}
			c.isDefault = true
			def = *c
			cases = append(cases, c)
			return nil
		}
		if c.vschema == "" {
			return fmt.Errorf("%s:%d: no vschema: for this case", file, c.line)
		}
		if body == nil {
			return fmt.Errorf("%s:%d: no plan: or error: for this case", file, c.line)
		}
		for len(body) > 1 && body[len(body)-1] == "" {
			body = body[:len(body)-1]
		}
		c.want = strings.Join(body, "\n")
		cases = append(cases, c)
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), " \t\r")
		if line == "---" {
			if err := finish(n); err != nil {
				return nil, err
			}
			continue
		}
		if c == nil {
			if line == "" {
				continue
			}
			start(n)
		}
		if inPlan {
			body = append(body, line)
			continue
		}
		key, val, _ := strings.Cut(line, ":")
		val = strings.TrimSpace(val)
		switch {
		case line == "":
			if body != nil {
				continue
			}
		case strings.HasPrefix(line, "#"):
			if body != nil {
				return nil, fmt.Errorf("%s:%d: a comment after the expectation (comments go above the case)", file, n)
			}
		case key == "vschema":
			c.vschema = val
		case key == "keyspace":
			c.keyspace = val
		case key == "user":
			c.user = val
		case key == "sql":
			c.sql = val
			c.line = n
		case key == "plan" && val == "":
			body, inPlan = []string{"plan:"}, true
			continue // the expectation is not part of the head
		case key == "error":
			if body != nil {
				return nil, fmt.Errorf("%s:%d: two expectations", file, n)
			}
			body = []string{line}
			continue
		default:
			return nil, fmt.Errorf("%s:%d: unknown line %q (want # comment, vschema:, keyspace:, user:, sql:, plan: or error:)", file, n, line)
		}
		c.head = append(c.head, line)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := finish(n); err != nil {
		return nil, err
	}
	return cases, nil
}

// writePlanCases writes cases back with their (new) expectations.
func writePlanCases(file string, cases []*planCase) error {
	var b strings.Builder
	for i, c := range cases {
		if i > 0 {
			b.WriteString("---\n")
		}
		for _, h := range c.head {
			b.WriteString(h + "\n")
		}
		if !c.isDefault {
			b.WriteString(c.want + "\n")
		}
	}
	return os.WriteFile(file, []byte(b.String()), 0o644)
}

// TestPlansCaseFiles checks the case files themselves: every case names its
// SQL once per vschema and keyspace (a duplicate is a copy-paste slip).
func TestPlansCaseFiles(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(plansDir, "*.txt"))
	seen := map[string]string{}
	counts := map[string]int{}
	for _, file := range files {
		cases, err := readPlanCases(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			if c.isDefault {
				continue
			}
			counts[filepath.Base(file)]++
			key := c.vschema + "\x00" + c.keyspace + "\x00" + c.user + "\x00" + c.sql
			if where, ok := seen[key]; ok {
				t.Errorf("%s:%d: the same case as %s", c.file, c.line, where)
			}
			seen[key] = c.file + ":" + strconv.Itoa(c.line)
		}
	}
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.Logf("%-24s %d cases", n, counts[n])
	}
}
