package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/shardgate/shardgate/workflow"
)

// Workflows is what the HTTP side asks of the online workflows
// (*workflow.Manager implements it).
type Workflows interface {
	List(ctx context.Context) ([]*workflow.Status, error)
	Show(ctx context.Context, keyspace, name string) (*workflow.Status, error)
	Create(ctx context.Context, req workflow.CreateRequest) (*workflow.Status, error)
	Do(ctx context.Context, keyspace, name, verb string, args map[string]string, by string) (*workflow.Result, error)
}

// SetWorkflows installs the online workflows behind /api/workflows; call
// it before serving (a proxy without an etcd topology has none).
func (a *Server) SetWorkflows(w Workflows) { a.workflows = w }

// workflowHandlers serves
//
//	GET  /api/workflows                       every workflow's status
//	GET  /api/workflows/<keyspace>/<name>     one workflow's status
//	POST /api/workflows                       create (a workflow.CreateRequest), admin
//	POST /api/workflows/<keyspace>/<name>/<verb>  vdiff, switchtraffic, reversetraffic, complete, cancel; admin
func (a *Server) workflowHandlers(mux *http.ServeMux) {
	mux.HandleFunc("/api/workflows", a.apiWorkflows)
	mux.HandleFunc("/api/workflows/", a.apiWorkflows)
}

// WorkflowAnswer is the answer to a command: its result and the status
// after it.
type WorkflowAnswer struct {
	Result *workflow.Result `json:"result"`
	Status *workflow.Status `json:"status,omitempty"`
}

func (a *Server) apiWorkflows(w http.ResponseWriter, r *http.Request) {
	if a.workflows == nil {
		httpError(w, http.StatusNotFound, "this proxy runs no online workflows: they need topology.source etcd")
		return
	}
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/api/workflows"), "/"), "/")
	if len(parts) == 1 && parts[0] == "" {
		parts = nil
	}
	switch {
	case r.Method == http.MethodGet && len(parts) == 0:
		list, err := a.workflows.List(r.Context())
		if err != nil {
			httpError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		if !a.adminLoggedIn(r) {
			for _, st := range list {
				hideDiffKeys(st)
			}
		}
		writeJSON(w, list)
	case r.Method == http.MethodGet && len(parts) == 2:
		st, err := a.workflows.Show(r.Context(), parts[0], parts[1])
		if err != nil {
			httpError(w, workflowStatus(err), err.Error())
			return
		}
		if !a.adminLoggedIn(r) {
			hideDiffKeys(st)
		}
		writeJSON(w, st)
	case r.Method == http.MethodPost && len(parts) == 0:
		user, ok := a.adminUser(w, r)
		if !ok {
			return
		}
		var req workflow.CreateRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
			httpError(w, http.StatusBadRequest, "bad JSON body: "+err.Error())
			return
		}
		a.log.Info("workflow create requested", zap.String("user", user), zap.String("remote", r.RemoteAddr),
			zap.String("workflow", req.Keyspace+"/"+req.Workflow), zap.String("type", req.Type))
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Minute)
		defer cancel()
		st, err := a.workflows.Create(ctx, req)
		if err != nil {
			httpError(w, workflowStatus(err), err.Error())
			return
		}
		writeJSON(w, st)
	case r.Method == http.MethodPost && len(parts) == 3:
		user, ok := a.adminUser(w, r)
		if !ok {
			return
		}
		var args map[string]string
		if r.ContentLength > 0 {
			if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&args); err != nil {
				httpError(w, http.StatusBadRequest, "bad JSON body: "+err.Error())
				return
			}
		}
		a.log.Info("workflow command", zap.String("user", user), zap.String("remote", r.RemoteAddr),
			zap.String("workflow", parts[0]+"/"+parts[1]), zap.String("verb", parts[2]))
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Minute)
		defer cancel()
		res, err := a.workflows.Do(ctx, parts[0], parts[1], parts[2], args, user+"@"+r.RemoteAddr)
		if err != nil {
			httpError(w, workflowStatus(err), err.Error())
			return
		}
		ans := WorkflowAnswer{Result: res}
		ans.Status, _ = a.workflows.Show(r.Context(), parts[0], parts[1])
		if !res.OK {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusConflict)
			_ = json.NewEncoder(w).Encode(ans)
			return
		}
		writeJSON(w, ans)
	default:
		httpError(w, http.StatusNotFound, "GET /api/workflows[/<keyspace>/<name>], POST /api/workflows (create) or POST /api/workflows/<keyspace>/<name>/<verb> ("+strings.Join(workflow.Verbs, ", ")+")")
	}
}

// hideDiffKeys removes the row values of a VDiff's differing rows (primary
// keys, what differs) from a status an anonymous reader gets: they are the
// application's data. Counts, kinds and shards stay.
func hideDiffKeys(st *workflow.Status) {
	if st == nil || st.Workflow == nil || st.VDiff == nil {
		return
	}
	for i := range st.VDiff.Tables {
		for j := range st.VDiff.Tables[i].Keys {
			k := &st.VDiff.Tables[i].Keys[j]
			k.PK, k.Info = nil, "(log in as an admin to see the key)"
		}
	}
}

func workflowStatus(err error) int {
	switch {
	case errors.Is(err, workflow.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, workflow.ErrConflict):
		return http.StatusConflict
	}
	return http.StatusBadRequest
}

// WorkflowClient talks to a proxy's /api/workflows (the shardgate reshard
// and movetables commands).
type WorkflowClient struct {
	Server         string // host:port of listen.http, or a URL
	User, Password string // an admin user, for commands that change state
}

func (c *WorkflowClient) url(path string) string {
	u := c.Server
	if !strings.Contains(u, "://") {
		u = "http://" + u
	}
	return strings.TrimRight(u, "/") + path
}

func (c *WorkflowClient) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	hr, err := http.NewRequestWithContext(ctx, method, c.url(path), rd)
	if err != nil {
		return err
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if c.User != "" {
		hr.SetBasicAuth(c.User, c.Password)
	}
	hr.Header.Set(CSRFHeader, "1") // a command line, not a page another site could script
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		return fmt.Errorf("cannot reach the proxy's HTTP address %s (--server, its listen.http): %w", c.Server, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusOK || (resp.StatusCode == http.StatusConflict && bytes.Contains(data, []byte(`"result"`))) {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s: %w", resp.Status, err)
		}
		return nil
	}
	var e struct{ Error string }
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		return fmt.Errorf("%s: %s", resp.Status, e.Error)
	}
	return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(data)))
}

// Create creates a workflow.
func (c *WorkflowClient) Create(ctx context.Context, req workflow.CreateRequest) (*workflow.Status, error) {
	var st workflow.Status
	if err := c.do(ctx, http.MethodPost, "/api/workflows", req, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Show returns a workflow's status.
func (c *WorkflowClient) Show(ctx context.Context, keyspace, name string) (*workflow.Status, error) {
	var st workflow.Status
	if err := c.do(ctx, http.MethodGet, "/api/workflows/"+keyspace+"/"+name, nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Do runs a command (vdiff, switchtraffic, …) and returns its answer; a
// command that ran and failed returns its answer and an error.
func (c *WorkflowClient) Do(ctx context.Context, keyspace, name, verb string, args map[string]string) (*WorkflowAnswer, error) {
	var ans WorkflowAnswer
	if err := c.do(ctx, http.MethodPost, "/api/workflows/"+keyspace+"/"+name+"/"+verb, args, &ans); err != nil {
		return nil, err
	}
	if ans.Result != nil && !ans.Result.OK {
		return &ans, fmt.Errorf("%s failed: %s", verb, ans.Result.Error)
	}
	return &ans, nil
}
