package console

// The console's HTTP handler: routes, security headers, and rendering.

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kybflow/kybflow/internal/opshttp"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// The Content-Security-Policy of every page: no inline script or style,
// nothing from elsewhere; the PDF reports are framed from the console's
// own origin.
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; frame-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// documentCSP is the policy of a document itself: it runs nothing and
// loads nothing, and may be framed by the console's pages only. object-src
// 'self' lets a browser's PDF viewer show it.
const documentCSP = "default-src 'none'; object-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"

type serverConfig struct {
	Index     *Index
	Documents documents
	Auth      Authenticator
	Auditor   Auditor
	Log       *slog.Logger
	Now       func() time.Time
	Ready     map[string]opshttp.Check
	// Deployment is what the actions and the health page reach; nil
	// serves none of their pages.
	Deployment *deployment
}

// server serves the console.
type server struct {
	serverConfig
	handler  http.Handler
	pages    map[string]*template.Template
	stopping chan struct{} // closed when the server shuts down: live streams end
}

// The pages, each a template of its own over layout.html.
var pageNames = append([]string{"list", "lookup", "document", "error"}, actionPages...)

func newServer(cfg serverConfig) (*server, error) {
	s := &server{serverConfig: cfg, pages: map[string]*template.Template{}, stopping: make(chan struct{})}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(templateFuncs()).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: page %s: %w", name, err)
		}
		s.pages[name] = t
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("console: static files: %w", err)
	}

	ops := opshttp.Handler(prometheus.NewRegistry(), cfg.Ready, nil)
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", ops)
	mux.Handle("GET /readyz", ops)
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	cfg.Auth.Routes(mux)

	app := http.NewServeMux()
	app.HandleFunc("GET /{$}", s.list)
	app.HandleFunc("GET /lookups/{key}", s.lookup)
	app.HandleFunc("GET /lookups/{key}/artifacts/{name}", s.document)
	app.HandleFunc("GET /lookups/{key}/artifacts/{name}/raw", s.raw)
	app.HandleFunc("GET /events/stream", s.live)
	if cfg.Deployment != nil {
		s.actionRoutes(app)
	}
	app.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusNotFound, "There is no such page.")
	})
	mux.Handle("/", cfg.Auth.Middleware(app))
	s.handler = mux
	return s, nil
}

// ServeHTTP sets the security headers of every response, then serves it.
// A document's handler replaces the CSP and the framing rule with its own.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	// Pages and documents show personal data: never kept by a browser or
	// a proxy. The stylesheet and the script may be.
	if len(r.URL.Path) > len("/static/") && r.URL.Path[:len("/static/")] == "/static/" {
		h.Set("Cache-Control", "private, max-age=300")
	} else {
		h.Set("Cache-Control", "no-store")
	}
	s.handler.ServeHTTP(w, r)
}

// view is what every page's layout reads.
type view struct {
	Title string
	User  User
	Data  any
}

// render writes the page name with data, or an error page if it fails to
// render (into a buffer first: a half page is never sent).
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	u, _ := UserOf(r.Context())
	var b bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&b, "layout", view{Title: title, User: u, Data: data}); err != nil {
		s.Log.Error("console: render", "page", name, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes()) // the client left: nothing to do
}

// fail renders the error page.
func (s *server) fail(w http.ResponseWriter, r *http.Request, status int, message string) {
	s.render(w, r, status, "error", http.StatusText(status), struct {
		Status  int
		Message string
	}{status, message})
}

func templateFuncs() template.FuncMap {
	return template.FuncMap{
		"path": url.PathEscape,
		"bytes": func(n int64) string {
			switch {
			case n >= 1<<20:
				return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
			case n >= 1<<10:
				return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
			}
			return fmt.Sprintf("%d B", n)
		},
		"time": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05.000Z")
		},
		"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
	}
}
