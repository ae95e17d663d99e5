// shardgate console. Plain JavaScript, no dependencies. Every value shown
// is put into the page as a text node (el() below), never as HTML.
"use strict";

const CSRF = {"X-Shardgate-Request": "1"};
let info = null;         // GET /api/info
let timer = null;        // the page's refresh
let last = null;         // the previous overview, for rates

// ---- DOM ----

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const k of kids.flat()) {
    if (k === undefined || k === null || k === false) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

function table(headers, rows, opts) {
  const head = el("tr", {}, headers.map(h => {
    const num = typeof h === "object" && h.num;
    return el("th", {class: num ? "num" : null}, typeof h === "object" ? h.t : h);
  }));
  const body = el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", {colspan: headers.length, class: "muted"}, (opts && opts.empty) || "none")));
  return el("table", {id: opts && opts.id}, el("thead", {}, head), body);
}

const num = (v, d) => el("td", {class: "num"}, v === undefined || v === null ? "—" : (typeof v === "number" ? fmt(v, d) : v));
function fmt(v, d) {
  if (d === undefined) d = Number.isInteger(v) ? 0 : 2;
  return v.toLocaleString("en-US", {minimumFractionDigits: d, maximumFractionDigits: d});
}
function ago(s) {
  if (s < 1) return (s * 1000).toFixed(0) + " ms";
  if (s < 120) return s.toFixed(1) + " s";
  if (s < 7200) return (s / 60).toFixed(1) + " min";
  return (s / 3600).toFixed(1) + " h";
}
function page(title, ...kids) {
  document.getElementById("main").replaceChildren(el("h1", {}, title), ...kids);
}
function problem(msg) { return el("p", {class: "bad"}, msg); }

// ---- HTTP ----

function auth() { return sessionStorage.getItem("shardgate-auth"); }

async function get(path) {
  const h = {};
  if (auth()) Object.assign(h, {"Authorization": "Basic " + auth()}, CSRF);
  const r = await fetch(path, {headers: h, cache: "no-store"});
  if (!r.ok) throw new Error(path + ": " + r.status + " " + (await errorText(r)));
  return r.json();
}

async function errorText(r) {
  try { const j = await r.json(); return j.error || (j.sql_error && j.sql_error.message) || JSON.stringify(j); }
  catch (e) { return r.statusText; }
}

// post sends an action with the admin login; without one it asks for it.
async function post(path, body) {
  if (!auth()) {
    await login("This action needs a login: a user with admin: true.");
  }
  const r = await fetch(path, {method: "POST", cache: "no-store",
    headers: Object.assign({"Content-Type": "application/json", "Authorization": "Basic " + auth()}, CSRF),
    body: JSON.stringify(body || {})});
  if (r.status === 401) {
    sessionStorage.removeItem("shardgate-auth");
    showWho();
    throw new Error("login refused: " + await errorText(r));
  }
  return r;
}

// ---- login ----

let loginWaiters = [];

function login(why) {
  document.getElementById("login-why").textContent = why || "Log in with a user that has admin: true.";
  document.getElementById("login-error").textContent = "";
  document.getElementById("login").hidden = false;
  document.getElementById("login-user").focus();
  return new Promise((resolve, reject) => loginWaiters.push({resolve, reject}));
}

async function submitLogin(ev) {
  ev.preventDefault();
  const u = document.getElementById("login-user").value;
  const p = document.getElementById("login-password").value;
  const token = btoa(unescape(encodeURIComponent(u + ":" + p)));
  const r = await fetch("/api/whoami", {headers: Object.assign({"Authorization": "Basic " + token}, CSRF), cache: "no-store"});
  if (!r.ok) {
    document.getElementById("login-error").textContent = await errorText(r);
    return;
  }
  sessionStorage.setItem("shardgate-auth", token);
  document.getElementById("login-password").value = "";
  document.getElementById("login").hidden = true;
  showWho();
  loginWaiters.splice(0).forEach(w => w.resolve());
}

function cancelLogin() {
  document.getElementById("login").hidden = true;
  loginWaiters.splice(0).forEach(w => w.reject(new Error("not logged in")));
}

function showWho() {
  const who = document.getElementById("who");
  const a = auth();
  if (a) {
    let name = "";
    try { name = decodeURIComponent(escape(atob(a))).split(":")[0]; } catch (e) { name = "?"; }
    who.replaceChildren("admin: ", el("b", {id: "who-user"}, name),
      el("button", {onclick: () => { sessionStorage.removeItem("shardgate-auth"); showWho(); }}, "Log out"));
  } else {
    who.replaceChildren(el("button", {id: "login-button", onclick: () => login().catch(() => {})}, "Log in"));
  }
}

// ---- pages ----

const pages = {
  "": overview,
  "keyspaces": keyspaces,
  "keyspace": keyspace,
  "query": queryPage,
  "sessions": sessions,
  "transactions": transactions,
  "top": topQueries,
  "recoveries": recoveries,
  "workflows": workflows,
  "workflow": workflowPage,
};

function route() {
  clearInterval(timer);
  timer = null;
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const name = parts[0] || "";
  for (const a of document.querySelectorAll("nav a")) {
    const target = a.getAttribute("href").replace(/^#\/?/, "");
    a.classList.toggle("active", target === name || (target === "keyspaces" && name === "keyspace") || (target === "workflows" && name === "workflow"));
  }
  const f = pages[name] || overview;
  Promise.resolve(f(parts.slice(1))).catch(err => page("Error", problem(String(err.message || err))));
}

function every(ms, f) {
  const run = () => f().catch(err => {
    const m = document.getElementById("refresh-error");
    if (m) m.textContent = String(err.message || err);
  });
  timer = setInterval(run, ms);
  return run();
}

// Overview: proxies, keyspaces, shards with servers, roles, health, lag,
// QPS and errors.
async function overview() {
  last = null;
  page("Overview", el("p", {id: "refresh-error", class: "bad"}), el("div", {id: "ov"}, "Loading…"));
  await every(2000, async () => {
    const ov = await get("/api/overview");
    const prev = last;
    last = ov;
    const secs = prev ? (ov.time_ms - prev.time_ms) / 1000 : 0;
    const rate = (cur, old) => (prev && secs > 0 && old !== undefined) ? Math.max(0, (cur - old) / secs) : null;
    const prevShard = {};
    if (prev) for (const k of prev.keyspaces) for (const s of k.shards) prevShard[k.name + "/" + s.name] = s;
    let up = 0, all = 0;
    for (const k of ov.keyspaces) for (const s of k.shards) { all++; if (s.ok) up++; }
    const cards = el("div", {class: "cards"},
      card("proxies", ov.proxies.length),
      card("client connections", ov.client_connections),
      card("queries/s", fmtRate(rate(ov.totals.queries, prev && prev.totals.queries))),
      card("errors/s", fmtRate(rate(ov.totals.errors, prev && prev.totals.errors))),
      card("shards up", up + " / " + all, up < all ? "bad" : "ok"),
      ov.draining ? card("state", "draining", "bad") : card("state", "serving", "ok"));
    const kids = [cards];
    for (const p of ov.problems || []) kids.push(problem(p));
    kids.push(el("h2", {}, "Proxies"), table(["id", "MySQL", "HTTP", "version", "started"], ov.proxies.map(p =>
      el("tr", {}, el("td", {}, p.id), el("td", {}, p.mysql), el("td", {}, p.http || ""), el("td", {}, p.version || ""),
        el("td", {}, p.started ? new Date(p.started).toLocaleString() : "")))));
    for (const k of ov.keyspaces) {
      kids.push(el("h2", {}, "Keyspace ", el("a", {href: "#/keyspace/" + encodeURIComponent(k.name)}, k.name),
        el("span", {class: "muted"}, " · " + (k.sharded ? k.shards.length + " shards" : "unsharded") + " · " + k.tables + " vschema tables")));
      kids.push(table(["shard", "servers (role, lag)", "health", {t: "ping ms", num: 1}, {t: "pool in use / idle / size", num: 1},
        {t: "queries/s", num: 1}, {t: "errors/s", num: 1}, {t: "queries", num: 1}],
        k.shards.map(s => {
          const p = prevShard[k.name + "/" + s.name];
          return el("tr", {class: "shard-row", "data-shard": k.name + "/" + s.name},
            el("td", {}, s.name, s.term ? el("span", {class: "muted"}, " term " + s.term) : null),
            el("td", {}, s.servers.map(sv => el("div", {class: "server"}, sv.addr + " ",
              el("span", {class: "role-" + sv.role}, sv.role),
              sv.role === "replica" ? el("span", {class: "muted"}, " lag " + fmt(sv.lag_seconds, 1) + " s") : null,
              sv.error ? el("span", {class: "bad"}, " " + sv.error) : null)),
              s.problem ? el("div", {class: "bad"}, s.problem) : null),
            el("td", {}, s.ok ? el("span", {class: "ok"}, "ok") : el("span", {class: "bad"}, "down"), s.error ? el("div", {class: "bad"}, s.error) : null),
            num(s.ping_ms, 2), num(s.pool_in_use + " / " + s.pool_idle + " / " + s.pool_capacity),
            num(fmtRate(rate(s.queries, p && p.queries))), num(fmtRate(rate(s.errors, p && p.errors))), num(s.queries));
        }), {id: "shards-" + k.name}));
    }
    document.getElementById("ov").replaceChildren(...kids);
  });
}

function card(k, v, cls) { return el("div", {class: "card"}, el("div", {class: "v " + (cls || "")}, v), el("div", {class: "k"}, k)); }
function fmtRate(r) { return r === null ? "—" : fmt(r, r < 10 ? 1 : 0); }

async function keyspaces() {
  const names = await get("/api/keyspaces");
  page("Keyspaces", el("ul", {}, names.map(n => el("li", {}, el("a", {href: "#/keyspace/" + encodeURIComponent(n)}, n)))));
}

// Keyspace: shards, vschema (vindexes, tables).
async function keyspace(args) {
  const k = await get("/api/keyspaces/" + encodeURIComponent(args[0] || ""));
  page("Keyspace " + k.name,
    el("p", {}, k.sharded ? "sharded" : "unsharded", k.auto_vschema ? " · auto_vschema" : "", k.default_vindex ? " · default vindex " + k.default_vindex : ""),
    el("h2", {}, "Shards"),
    table(["shard (key range)", "servers", "database"], k.shards.map(s =>
      el("tr", {}, el("td", {}, s.name), el("td", {}, s.servers.join(", ")), el("td", {}, s.database)))),
    el("h2", {}, "Vindexes"),
    table(["name", "type"], k.vindexes.map(v => el("tr", {}, el("td", {}, v.name), el("td", {}, v.type)))),
    el("h2", {}, "Tables (vschema)"),
    table(["table", "type", "sharding column", "vindex", "auto increment"], k.tables.map(t =>
      el("tr", {class: "table-row"}, el("td", {}, t.name), el("td", {}, t.type), el("td", {}, t.column || ""), el("td", {}, t.vindex || ""),
        el("td", {}, t.auto_increment || ""))), {id: "tables", empty: "no tables in the vschema"}));
}

// Query: VEXPLAIN PLAN/QUERIES of a statement, as the admin logged in.
async function queryPage() {
  const names = await get("/api/keyspaces");
  const ks = el("select", {id: "query-keyspace"}, names.map(n => el("option", {value: n}, n)));
  const sql = el("textarea", {id: "query-sql", placeholder: "SELECT … FROM … WHERE …", spellcheck: "false"});
  const mode = el("select", {id: "query-mode"}, el("option", {value: "plan"}, "VEXPLAIN PLAN (nothing runs)"),
    el("option", {value: "queries"}, "VEXPLAIN QUERIES (the statement runs)"));
  const out = el("div", {id: "query-result"});
  const run = async () => {
    out.replaceChildren("Running…");
    try {
      const r = await post("/api/query", {keyspace: ks.value, sql: sql.value, mode: mode.value});
      const j = await r.json();
      if (!r.ok) {
        out.replaceChildren(problem(j.sql_error ? "ERROR " + j.sql_error.code + " (" + j.sql_error.state + "): " + j.sql_error.message : j.error));
        return;
      }
      out.replaceChildren(j.columns ? table(j.columns, j.rows.map(row => el("tr", {}, row.map(v => el("td", {class: "sql"}, v)))), {id: "query-table"})
        : el("p", {}, "OK, " + j.affected + " rows affected"));
    } catch (err) { out.replaceChildren(problem(String(err.message || err))); }
  };
  page("Query",
    el("p", {class: "muted"}, "The statement runs with the rights of the admin account you log in with, through the same checks as a SQL client of that account."),
    el("p", {}, el("label", {}, "keyspace ", ks), " ", el("label", {}, "mode ", mode)), sql,
    el("p", {}, el("button", {id: "query-run", onclick: run}, "Explain")), out);
}

// Sessions: every client session; kill.
async function sessions() {
  page("Sessions", el("p", {id: "refresh-error", class: "bad"}), el("p", {id: "kill-result"}), el("div", {id: "sessions"}, "Loading…"));
  const draw = async () => {
    const list = await get("/api/sessions");
    document.getElementById("sessions").replaceChildren(table(["id", "user", "host", "keyspace", "command", {t: "time", num: 1},
      "transaction", "statement", ""], list.map(s =>
      el("tr", {class: "session-row", "data-id": s.id}, num(s.id), el("td", {}, s.user), el("td", {}, s.host), el("td", {}, s.db),
        el("td", {}, s.command + (s.state ? " (" + s.state + ")" : "")), num(ago(s.time_s)),
        el("td", {}, s.transaction ? el("span", {class: "warn"}, "open " + ago(s.transaction_age_s)) : ""),
        el("td", {class: "sql"}, s.info_full || s.info),
        el("td", {}, el("button", {class: "danger kill", "data-id": s.id, onclick: () => kill(s.id, false, draw)}, "Kill"),
          s.command === "Query" ? el("button", {onclick: () => kill(s.id, true, draw)}, "Kill query") : null))),
      {id: "sessions-table", empty: "no sessions"}));
  };
  await every(2000, draw);
}

async function kill(id, query, redraw) {
  const msg = document.getElementById("kill-result");
  try {
    const r = await post("/api/sessions/" + id + "/kill", {query});
    msg.className = r.ok ? "ok" : "bad";
    msg.textContent = r.ok ? (query ? "Statement of session " + id + " killed" : "Session " + id + " killed") : await errorText(r);
  } catch (err) { msg.className = "bad"; msg.textContent = String(err.message || err); }
  await redraw();
}

// Transactions: open ones, in-doubt 2PC branches, the resolver's actions.
async function transactions() {
  page("Transactions", el("p", {id: "refresh-error", class: "bad"}), el("div", {id: "tx"}, "Loading…"));
  await every(3000, async () => {
    const t = await get("/api/transactions");
    const kids = [el("h2", {}, "Open transactions"),
      table(["session", "user", "keyspace", {t: "age", num: 1}, "statement"], t.open.map(s =>
        el("tr", {}, num(s.id), el("td", {}, s.user), el("td", {}, s.db), num(ago(s.transaction_age_s)), el("td", {class: "sql"}, s.info))))];
    kids.push(el("h2", {}, "Two-phase commit"));
    if (!t.twopc) kids.push(el("p", {class: "muted"}, "No global keyspace: two-phase commit is not available."));
    else if (!t.in_use) kids.push(el("p", {class: "muted"}, "Not in use on this proxy (no twopc transaction since start; the resolver scanned once at start)."));
    if (t.error) kids.push(problem(t.error));
    kids.push(el("h2", {}, "In-doubt transactions"), table(["dtid", "state", "decision", "branches (shard@server)", {t: "age", num: 1}],
      t.in_doubt.map(d => el("tr", {}, el("td", {class: "sql"}, d.dtid), el("td", {}, d.state), el("td", {}, d.decision || "none"),
        el("td", {}, d.branches ? d.branches.join(", ") : ""), num(ago(d.age_s)))), {id: "in-doubt"}));
    kids.push(el("h2", {}, "Resolver actions (this proxy, newest first)"), table(["time", "action", "dtid", "shard", "server", "why"],
      t.resolver_actions.map(a => el("tr", {}, el("td", {}, new Date(a.time).toLocaleString()), el("td", {}, a.action),
        el("td", {class: "sql"}, a.dtid), el("td", {}, a.shard), el("td", {}, a.server), el("td", {}, a.why)))));
    if (t.stats) {
      const s = t.stats;
      kids.push(el("h2", {}, "Counts since start"), table(["two-phase commits", "one-phase", "prepare failures", "lost to resolver",
        "unknown outcome", "resolver scans", "scan errors", "resolver commits", "resolver rollbacks"],
        [el("tr", {}, num(s.TwoPhaseCommits), num(s.OnePhaseCommits), num(s.PrepareFailures), num(s.LostToResolver), num(s.UnknownOutcomes),
          num(s.Scans), num(s.ScanErrors), num(s.ResolvedCommits), num(s.ResolvedAborts))]));
    }
    document.getElementById("tx").replaceChildren(...kids);
  });
}

// Top queries: normalized statements with counts, errors, rows, shards and
// latency percentiles; reset.
async function topQueries() {
  const reset = async () => {
    try {
      const r = await post("/api/top/reset");
      if (!r.ok) throw new Error(await errorText(r));
      await draw();
    } catch (err) { document.getElementById("refresh-error").textContent = String(err.message || err); }
  };
  page("Top queries", el("p", {class: "muted"}, "Statements normalized (values as ?), by total time. Percentiles are estimated (at most 2× the true value). ",
    el("button", {id: "top-reset", onclick: reset}, "Reset")), el("p", {id: "refresh-error", class: "bad"}), el("div", {id: "top"}, "Loading…"));
  const draw = async () => {
    const list = await get("/api/top?n=200");
    document.getElementById("top").replaceChildren(table(["statement", {t: "count", num: 1}, {t: "errors", num: 1}, {t: "rows", num: 1},
      {t: "shards/run", num: 1}, {t: "total ms", num: 1}, {t: "avg ms", num: 1}, {t: "p50", num: 1}, {t: "p95", num: 1}, {t: "p99", num: 1}, {t: "max ms", num: 1}],
      list.map(q => el("tr", {class: "top-row"}, el("td", {class: "sql"}, q.sql), num(q.count), num(q.errors), num(q.rows), num(q.shards_avg, 1),
        num(q.total_ms, 1), num(q.avg_ms, 3), num(q.p50_ms, 3), num(q.p95_ms, 3), num(q.p99_ms, 3), num(q.max_ms, 3))),
      {id: "top-table", empty: "no statements yet"}));
  };
  await every(5000, draw);
}

// Recoveries: failovers and planned switches, with their steps.
async function recoveries() {
  page("Recoveries", el("p", {id: "refresh-error", class: "bad"}), el("div", {id: "rec"}, "Loading…"));
  await every(5000, async () => {
    const list = (await get("/api/recoveries")).slice().reverse();
    document.getElementById("rec").replaceChildren(
      info && !info.ha ? el("p", {class: "muted"}, "No HA layer in this proxy.") : "",
      table(["start", "kind", "shard", "old → new primary", "outcome", {t: "ms", num: 1}, "steps (ms)"], list.map(r =>
        el("tr", {}, el("td", {}, new Date(r.start).toLocaleString()), el("td", {}, r.kind), el("td", {}, r.keyspace + "/" + r.shard),
          el("td", {}, (r.old_primary || "?") + " → " + (r.new_primary || "?")),
          el("td", {class: r.outcome === "success" ? "ok" : "bad"}, r.outcome, r.error ? el("div", {}, r.error) : null),
          num(r.duration_ms, 1), el("td", {}, (r.steps || []).map(s => el("div", {}, s.name + " " + fmt(s.duration_ms || 0, 1),
            s.ok === false ? el("span", {class: "bad"}, " failed" + (s.detail ? ": " + s.detail : "")) : null))))),
      {id: "recoveries-table", empty: "no recoveries yet"}));
  });
}

// ---- workflows ----
// Reshard and MoveTables workflows (package workflow): GET /api/workflows
// lists every workflow's status (workflow.Status: the etcd record with its
// streams, rows_copied, lag_seconds, traffic_on); GET
// /api/workflows/<keyspace>/<name> is one. Commands (vdiff, switchtraffic,
// …) go through POST with the admin login, as the CLI sends them.

const wfTypes = {reshard: "Reshard", movetables: "MoveTables"};
const switchSteps = ["hold", "acks", "fence", "catchup", "prepare_other_side", "flip"];

function wfType(t) { return wfTypes[t] || t || "?"; }
function wfHref(w) { return "#/workflow/" + encodeURIComponent(w.keyspace) + "/" + encodeURIComponent(w.name); }
function when(t) {
  if (!t || t.startsWith("0001-")) return "";
  return new Date(t).toLocaleString();
}
function since(t) {
  if (!t || t.startsWith("0001-")) return "";
  return ago(Math.max(0, (Date.now() - new Date(t).getTime()) / 1000)) + " ago";
}
function phaseClass(p) {
  return {error: "bad", cancelled: "muted", completed: "ok", switched: "ok", running: "ok", copying: "warn", reversed: "warn"}[p] || "";
}
function shardList(ks, shards) { return ks + " [" + (shards || []).join(", ") + "]"; }

// copyProgress sums the forward streams' copy of each moving table: rows
// copied, how many sources finished it, the last key copied.
function copyProgress(w) {
  const fwd = (w.streams || []).filter(s => s.direction !== "reverse");
  return (w.tables || []).map(t => {
    let rows = 0, done = 0, started = 0;
    const lastPK = [];
    for (const s of fwd) {
      const c = (s.copy || {})[t];
      if (c) {
        started++;
        rows += c.rows || 0;
        if (c.last_pk && !c.done) lastPK.push(s.source + ": " + c.last_pk.join(","));
      }
      if ((c && c.done) || s.copied) done++;
    }
    return {table: t, rows, done, sources: fwd.length, started, lastPK};
  });
}

// lastError is the workflow's error, else a stream's, else the last
// command's that failed.
function lastError(w) {
  if (w.error) return w.error;
  for (const s of w.streams || []) if (s.error) return "stream " + s.id + ": " + s.error;
  const r = (w.results || []).slice(-1)[0];
  if (r && !r.ok) return r.verb + ": " + (r.error || "failed");
  return "";
}

// vdiffSummary is the verdict of a VDiff report, as an element.
function vdiffSummary(v) {
  if (!v) return el("span", {class: "muted"}, "none");
  const diffs = (v.mismatched || 0) + (v.extra_source || 0) + (v.extra_target || 0) + (v.misplaced || 0);
  if (v.error) return el("span", {class: "bad"}, "failed: " + v.error);
  if (diffs) return el("span", {class: "bad"}, diffs + " difference(s) in " + fmt(v.rows_compared || 0) + " rows");
  return el("span", {class: "ok"}, "no difference in " + fmt(v.rows_compared || 0) + " rows");
}

function streamsRunning(w) {
  const all = w.streams || [];
  return all.filter(s => s.running).length + " / " + all.length + " running";
}

function trafficText(w) {
  return w.traffic_on === "targets" ? "targets: " + shardList(w.keyspace, w.target_shards)
    : "sources: " + shardList(w.source_keyspace, w.source_shards);
}

// Workflows: every workflow with its progress.
async function workflows() {
  if (!info.workflows) {
    page("Workflows", el("p", {id: "workflows-none"}, "None: this proxy runs no resharding or MoveTables workflows (they need topology.source etcd)."));
    return;
  }
  page("Workflows", el("p", {class: "muted"}, "Reshard and MoveTables workflows, from etcd. Commands: shardgate reshard|movetables …, or POST /api/workflows/<keyspace>/<name>/<verb>."),
    el("p", {id: "refresh-error", class: "bad"}), el("div", {id: "wf"}, "Loading…"));
  await every(3000, async () => {
    const list = await get("/api/workflows");
    document.getElementById("wf").replaceChildren(table(["workflow", "type", "source → target", "tables", "phase", "traffic on",
      {t: "rows copied", num: 1}, "tables copied", {t: "lag", num: 1}, "streams", "last VDiff", "last error", "updated"], (list || []).map(w => {
      const prog = copyProgress(w);
      const tablesDone = prog.filter(p => p.sources > 0 && p.done === p.sources).length;
      const err = lastError(w);
      return el("tr", {class: "wf-row", "data-wf": w.keyspace + "/" + w.name},
        el("td", {class: "wf-name"}, el("a", {href: wfHref(w)}, w.keyspace + "/" + w.name)),
        el("td", {class: "wf-type"}, wfType(w.type)),
        el("td", {class: "wf-shards"}, shardList(w.source_keyspace, w.source_shards) + " → " + shardList(w.keyspace, w.target_shards)),
        el("td", {class: "wf-tables"}, (w.tables || []).join(", ")),
        el("td", {class: "wf-phase"}, el("span", {class: phaseClass(w.phase)}, w.phase), w.request ? el("div", {class: "muted"}, "running " + w.request.verb) : null,
          w.switching ? el("div", {class: "warn"}, "switching " + w.switching.direction) : null),
        el("td", {class: "wf-traffic"}, trafficText(w)),
        el("td", {class: "wf-rows num"}, fmt(w.rows_copied || 0)),
        el("td", {class: "wf-copy"}, tablesDone + " / " + prog.length),
        el("td", {class: "wf-lag num"}, (w.streams || []).some(s => s.running) ? fmt(w.lag_seconds || 0, 3) + " s" : "—"),
        el("td", {class: "wf-streams"}, streamsRunning(w)),
        el("td", {class: "wf-vdiff"}, vdiffSummary(w.vdiff)),
        el("td", {class: "wf-error bad"}, err),
        el("td", {class: "wf-updated"}, since(w.updated)));
    }), {id: "workflows-table", empty: "no workflows"}));
  });
}

// facts is a two-column table of name and value; each row has data-k.
function facts(id, rows) {
  return el("table", {id, class: "facts"}, el("tbody", {}, rows.filter(r => r).map(([k, label, v]) =>
    el("tr", {"data-k": k}, el("th", {}, label), el("td", {}, v)))));
}

// Workflow: one workflow in detail (#/workflow/<keyspace>/<name>).
async function workflowPage(args) {
  const ks = args[0] || "", name = args[1] || "";
  const path = "/api/workflows/" + encodeURIComponent(ks) + "/" + encodeURIComponent(name);
  const draw = w => document.getElementById("wf-detail").replaceChildren(...workflowDetail(w));
  // VDiff only reads both sides, so the page offers it (with the admin
  // login, as every action); switching traffic, completing and cancelling
  // stay with the CLI and the HTTP API.
  const msg = el("span", {id: "wf-action-result"});
  const run = el("button", {id: "wf-vdiff-run", hidden: !info.actions, onclick: async () => {
    run.disabled = true;
    msg.className = "muted";
    msg.textContent = "VDiff running…";
    try {
      const r = await post(path + "/vdiff");
      const j = await r.json();
      if (j.result) {
        msg.className = j.result.ok ? "ok" : "bad";
        msg.textContent = "vdiff: " + (j.result.ok ? j.result.message || "done" : j.result.error || "failed");
      } else {
        msg.className = "bad";
        msg.textContent = j.error || r.status + " " + r.statusText;
      }
      if (j.status) draw(j.status);
    } catch (err) {
      msg.className = "bad";
      msg.textContent = String(err.message || err);
    } finally {
      run.disabled = false;
    }
  }}, "Run VDiff");
  page("Workflow " + ks + "/" + name, el("p", {}, el("a", {href: "#/workflows"}, "← all workflows"), " · ", run, " ", msg),
    el("p", {id: "refresh-error", class: "bad"}), el("div", {id: "wf-detail"}, "Loading…"));
  await every(3000, async () => draw(await get(path)));
}

function workflowDetail(w) {
  const kids = [];
  const err = lastError(w);
  kids.push(el("div", {class: "cards"},
    card("phase", w.phase, phaseClass(w.phase)),
    card("traffic on", w.traffic_on),
    card("rows copied", fmt(w.rows_copied || 0)),
    card("max stream lag", (w.streams || []).some(s => s.running) ? fmt(w.lag_seconds || 0, 3) + " s" : "—"),
    card("streams", streamsRunning(w))));
  if (err) kids.push(el("p", {id: "wf-error", class: "bad"}, "Error: " + err));
  if (w.switching) kids.push(el("p", {class: "notice"}, "Traffic switch " + w.switching.direction + " in progress since " + when(w.switching.started) +
    " (statements on " + (w.switching.shards || []).join(", ") + " are held)"));
  if (w.request) kids.push(el("p", {class: "notice", id: "wf-request"}, "Running " + w.request.verb + ", asked " + since(w.request.at) + " by " + (w.request.by || "?")));
  kids.push(facts("wf-facts", [
    ["type", "type", wfType(w.type)],
    ["source", "source", shardList(w.source_keyspace, w.source_shards)],
    ["target", "target", shardList(w.keyspace, w.target_shards)],
    ["tables", "tables", (w.tables || []).join(", ")],
    w.sequences && Object.keys(w.sequences).length ? ["sequences", "sequences", Object.entries(w.sequences).map(([t, s]) => t + " → " + s).join(", ")] : null,
    ["phase", "phase", w.phase + (w.stopped ? " (stopped in " + w.stopped + ")" : "")],
    ["traffic", "traffic on", trafficText(w)],
    ["runner", "run by", w.runner || "no proxy"],
    ["created", "created", when(w.created)],
    ["updated", "updated", when(w.updated) + " (" + since(w.updated) + ")"],
  ]));

  kids.push(el("h2", {}, "Copy"), table(["table", {t: "rows copied", num: 1}, "sources copied", "state", "last key copied"],
    copyProgress(w).map(p => el("tr", {class: "copy-row", "data-table": p.table}, el("td", {}, p.table), num(p.rows),
      el("td", {}, p.done + " / " + p.sources),
      el("td", {}, p.sources > 0 && p.done === p.sources ? el("span", {class: "ok"}, "copied") : p.started ? el("span", {class: "warn"}, "copying") : "waiting"),
      el("td", {class: "sql"}, p.lastPK.join("; ")))), {id: "wf-copy", empty: "no tables"}));

  kids.push(el("h2", {}, "Streams"), table(["stream", "direction", "source", {t: "copied", num: 1}, "position", {t: "lag", num: 1},
    {t: "transactions", num: 1}, {t: "rows applied", num: 1}, "state", "updated"],
    (w.streams || []).map(s => {
      const copied = Object.values(s.copy || {}).reduce((a, c) => a + (c.rows || 0), 0);
      return el("tr", {class: "stream-row", "data-stream": s.id},
        el("td", {}, s.id), el("td", {}, s.direction), el("td", {}, s.source), num(copied),
        el("td", {class: "sql stream-pos"}, s.pos || s.start || "", s.applied && s.applied !== s.pos ? el("div", {class: "muted"}, "applied " + s.applied) : null),
        num(s.running ? fmt(s.lag_seconds || 0, 3) + " s" : "—"), num(s.transactions || 0), num(s.rows || 0),
        el("td", {class: "stream-state"}, s.running ? el("span", {class: "ok"}, "running") : el("span", {class: "muted"}, "stopped"),
          s.error ? el("div", {class: "bad"}, s.error) : null),
        el("td", {}, since(s.updated)));
    }), {id: "wf-streams", empty: "no streams"}));

  kids.push(el("h2", {}, "Traffic switches"), table(["started", "direction", "outcome", {t: "statements held ms", num: 1}, {t: "total ms", num: 1}, "steps (ms)"],
    (w.switches || []).slice().reverse().map(sw => {
      const steps = Object.keys(sw.steps_ms || {}).sort((a, b) => {
        const ia = switchSteps.indexOf(a), ib = switchSteps.indexOf(b);
        return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
      });
      return el("tr", {class: "switch-row", "data-id": sw.id}, el("td", {}, when(sw.started)), el("td", {class: "switch-direction"}, sw.direction),
        el("td", {class: "switch-outcome"}, sw.ok ? el("span", {class: "ok"}, "ok") : el("span", {class: "bad"}, "aborted" + (sw.error ? ": " + sw.error : "")),
          sw.no_ack && sw.no_ack.length ? el("div", {class: "warn"}, "no acknowledgement from " + sw.no_ack.join(", ")) : null),
        el("td", {class: "num switch-held"}, fmt(sw.held_ms || 0, 1)), el("td", {class: "num switch-duration"}, fmt(sw.duration_ms || 0, 1)),
        el("td", {class: "switch-steps"}, steps.map(k => k + " " + fmt(sw.steps_ms[k], 1)).join(" · ")));
    }), {id: "wf-switches", empty: "no traffic switch yet"}));

  kids.push(el("h2", {}, "VDiff"));
  const v = w.vdiff;
  if (!v) {
    kids.push(el("p", {id: "wf-vdiff-none", class: "muted"}, "No VDiff yet (shardgate " + w.type + " … vdiff)."));
  } else {
    const diffs = (v.mismatched || 0) + (v.extra_source || 0) + (v.extra_target || 0) + (v.misplaced || 0);
    kids.push(el("p", {id: "wf-vdiff-verdict", class: v.error || diffs ? "bad" : "ok"},
      v.error ? "VDiff failed: " + v.error : diffs ? diffs + " difference(s)" : "No difference"));
    kids.push(facts("wf-vdiff", [
      ["started", "started", when(v.started) + " (" + since(v.started) + ")"],
      ["duration", "duration", fmt((v.duration_ms || 0) / 1000, 2) + " s (" + fmt(v.rows_per_second || 0, 0) + " rows/s)"],
      ["rows_compared", "rows compared", fmt(v.rows_compared || 0)],
      ["mismatched", "mismatched", fmt(v.mismatched || 0)],
      ["extra_source", "only on the sources", fmt(v.extra_source || 0)],
      ["extra_target", "only on the targets", fmt(v.extra_target || 0)],
      ["misplaced", "on the wrong shard", fmt(v.misplaced || 0)],
      v.positions && v.positions.length ? ["positions", "at positions", el("span", {class: "sql"}, v.positions.join("; "))] : null,
    ]));
    kids.push(table(["table", {t: "rows compared", num: 1}, {t: "mismatched", num: 1}, {t: "only on sources", num: 1},
      {t: "only on targets", num: 1}, {t: "wrong shard", num: 1}], (v.tables || []).map(t =>
      el("tr", {class: "vdiff-table-row", "data-table": t.table}, el("td", {}, t.table), num(t.rows_compared || 0), num(t.mismatched || 0),
        num(t.extra_source || 0), num(t.extra_target || 0), num(t.misplaced || 0))), {id: "wf-vdiff-tables"}));
    const keys = [];
    for (const t of v.tables || []) for (const k of t.keys || []) keys.push({table: t.table, ...k});
    if (keys.length || diffs) {
      kids.push(el("h2", {}, "Differing rows"), table(["table", "kind", "primary key", "shard", "what differs"], keys.map(k =>
        el("tr", {class: "diff-key", "data-kind": k.kind}, el("td", {}, k.table), el("td", {}, k.kind), el("td", {class: "sql diff-pk"}, (k.pk || []).join(",")),
          el("td", {}, k.shard || ""), el("td", {class: "sql"}, k.info || ""))), {id: "wf-vdiff-keys", empty: "no keys recorded"}));
    }
  }

  kids.push(el("h2", {}, "Commands"), table(["done", "command", "outcome", "message"], (w.results || []).slice().reverse().map(r =>
    el("tr", {class: "result-row"}, el("td", {}, when(r.done)), el("td", {}, r.verb),
      el("td", {}, r.ok ? el("span", {class: "ok"}, "ok") : el("span", {class: "bad"}, "failed")),
      el("td", {class: r.ok ? "" : "bad"}, r.ok ? (r.message || "") : (r.error || "")))), {id: "wf-results", empty: "no command yet"}));
  return kids;
}

// ---- start ----

async function start() {
  document.getElementById("login-form").addEventListener("submit", ev => { submitLogin(ev).catch(err => {
    document.getElementById("login-error").textContent = String(err.message || err); }); });
  document.getElementById("login-cancel").addEventListener("click", cancelLogin);
  showWho();
  info = await get("/api/info");
  document.getElementById("footer").textContent = "shardgate " + info.version + " on " + info.host + " · MySQL " + info.mysql +
    " · up " + info.uptime + (info.actions ? "" : " · read-only listener: actions are on " + (info.admin_listener || "listen.admin"));
  window.addEventListener("hashchange", route);
  route();
}

document.addEventListener("DOMContentLoaded", () => { start().catch(err => page("Error", problem(String(err.message || err)))); });
