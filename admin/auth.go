package admin

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"
)

// CSRFHeader must be sent, with any value, on every request that changes
// state (POST /api/…). A browser sends such a header only from a script of
// the page's own origin (another site's form or script cannot, short of a
// CORS preflight this server never answers), so a logged-in browser cannot
// be made to act for another site. Basic auth alone would not stop that:
// a browser sends remembered credentials with any request.
const CSRFHeader = "X-Shardgate-Request"

// csrfProblem says why a state-changing request is refused, or "".
func csrfProblem(r *http.Request) string {
	if r.Header.Get(CSRFHeader) == "" {
		return "this request changes state: it needs the header " + CSRFHeader + ": 1 (protection against cross-site requests)"
	}
	// Defense in depth: a browser names the page that sent the request.
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || !strings.EqualFold(u.Host, r.Host) {
			return "cross-origin request refused (Origin " + o + ")"
		}
	}
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return "cross-site request refused (Sec-Fetch-Site " + s + ")"
	}
	return ""
}

func safeMethod(m string) bool { return m == http.MethodGet || m == http.MethodHead }

// tlsConfigured: the proxy has a certificate, so credentials must not cross
// the network in clear text.
func (a *Server) tlsConfigured() bool {
	l := a.proxy.Config().Listen
	return l.TLS != nil || l.HTTPTLS != nil
}

// checkAdmin checks the request's HTTP basic auth against the users with
// admin: true: the user's name, or an HTTP status and a message. Failed
// logins count per address (authFailures): brute force is blocked there.
func (a *Server) checkAdmin(r *http.Request) (string, int, string) {
	if a.tlsConfigured() && r.TLS == nil && !loopback(r.RemoteAddr) {
		return "", http.StatusForbidden, "a certificate is configured (listen.tls or listen.http_tls): admin requests are accepted over TLS or from this host only"
	}
	if !safeMethod(r.Method) {
		if msg := csrfProblem(r); msg != "" {
			return "", http.StatusForbidden, msg
		}
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	if a.authFails.blocked(host, time.Now()) {
		return "", http.StatusTooManyRequests, "too many failed admin logins from this address; try again in a minute"
	}
	name, pw, ok := r.BasicAuth()
	if !ok {
		return "", http.StatusUnauthorized, "this needs a login: a user with admin: true in users: (HTTP basic auth)"
	}
	if u := findUser(a.proxy.Config().Users, name); checkPassword(u, pw) && u != nil && u.Admin {
		return name, 0, ""
	}
	a.authFails.fail(host, time.Now())
	a.log.Warn("admin login refused", zap.String("user", name), zap.String("remote", r.RemoteAddr), zap.String("path", r.URL.Path))
	return "", http.StatusUnauthorized, "wrong user or password, or the user is not an admin (admin: true in users:)"
}

// adminUser checks the request as checkAdmin does and answers it when it
// is refused. A script of the console (which sends CSRFHeader) gets no
// WWW-Authenticate challenge, so the browser shows the console's login
// form rather than its own dialog.
func (a *Server) adminUser(w http.ResponseWriter, r *http.Request) (string, bool) {
	name, code, msg := a.checkAdmin(r)
	if code == 0 {
		return name, true
	}
	if code == http.StatusUnauthorized && r.Header.Get(CSRFHeader) == "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="shardgate admin", charset="UTF-8"`)
	}
	httpError(w, code, msg)
	return "", false
}

// adminOnly serves h to admin users only (pprof).
func (a *Server) adminOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, ok := a.adminUser(w, r); ok {
			h(w, r)
		}
	}
}

type readOnlyKey struct{}

// readOnlyListener reports whether r came to the listener that serves only
// reads (listen.http when listen.admin is set).
func readOnlyListener(r *http.Request) bool {
	v, _ := r.Context().Value(readOnlyKey{}).(bool)
	return v
}

// secure sets the headers every answer carries: no framing (clickjacking),
// no content sniffing, no referrer, and a content security policy that runs
// only the console's own scripts (no inline script, nothing from another
// origin), so that text shown in a page can never run as code.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
		if strings.HasPrefix(r.URL.Path, "/api/") {
			hd.Set("Cache-Control", "no-store")
		}
		h.ServeHTTP(w, r)
	})
}

// readOnly serves what h serves except requests that change state and
// pprof, which only the admin listener serves.
func readOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !safeMethod(r.Method) || strings.HasPrefix(r.URL.Path, "/debug/pprof") {
			httpError(w, http.StatusNotFound, "served on the admin listener only (listen.admin)")
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), readOnlyKey{}, true)))
	})
}
