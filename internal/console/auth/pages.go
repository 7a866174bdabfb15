package auth

import (
	"html/template"
	"net/http"
)

// The few pages of the login (refusals, logged out), plain and with a
// strict Content-Security-Policy: no script, no style but inline-free HTML.

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} · kybflow console</title></head>
<body><main>
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
{{with .Link}}<p>{{.}}</p>{{end}}
</main></body></html>
`))

// writePage shows msg (text) and link (trusted HTML, may be "").
func writePage(w http.ResponseWriter, status int, title, msg string, link template.HTML) {
	render(w, status, struct {
		Title   string
		Message any
		Link    template.HTML
	}{title, msg, link})
}

// writePageHTML shows msgHTML, trusted HTML written in this package.
func writePageHTML(w http.ResponseWriter, status int, title, msgHTML string) {
	render(w, status, struct {
		Title   string
		Message any
		Link    template.HTML
	}{title, template.HTML(msgHTML), ""}) //nolint:gosec // msgHTML is a constant of this package
}

func render(w http.ResponseWriter, status int, data any) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = pageTemplate.Execute(w, data) // the status is sent: nothing to do if the client went away
}
