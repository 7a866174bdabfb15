// Package amlapi is a client of BankID Norway's AML API: it opens
// organization and beneficial owners sessions, reads their status and
// downloads their results, with an OAuth2 client-credentials token, retries
// of transient failures and a cap on its own request rate.
//
// Every wire detail that BankID's public material does not confirm lives
// in model.go, so that it can be corrected in one place. Errors are
// classified once (errors.go): see Class and ClassOf. The result documents
// and their tolerant decoders are in document.go.
package amlapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/kybflow/kybflow/identifier"
)

// Client calls the AML API. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	baseURL string // base without a trailing slash; API paths are appended
	hc      *http.Client
	tokens  *tokenSource
	limiter *rate.Limiter
	retry   RetryPolicy
	timeout time.Duration
	log     *slog.Logger
}

// New validates cfg and returns a Client. It makes no request: the token
// endpoint is discovered and the first token fetched on the first call.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	base, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("amlapi config: BaseURL: %w", err)
	}
	hc := withoutCrossOriginAuth(cfg.HTTPClient)
	return &Client{
		base:    base,
		baseURL: strings.TrimSuffix(cfg.BaseURL, "/"),
		hc:      hc,
		tokens:  newTokenSource(&cfg, hc, cfg.Logger),
		limiter: rate.NewLimiter(cfg.RateLimit, cfg.RateBurst),
		retry:   cfg.Retry,
		timeout: cfg.RequestTimeout,
		log:     cfg.Logger,
	}, nil
}

// ---- Calls ----

// CreateOptions are the choices of a create call that are not sent as such.
type CreateOptions struct {
	// IdentifierKind says what CreateSessionRequest.Identifier is. Empty
	// means the organization number of the session's country (for
	// beneficial owners: a Norwegian organization number); identifier.DUNS
	// is the other kind accepted. A 9-digit value can be either, so DUNS
	// is never guessed.
	IdentifierKind identifier.Kind
}

// CreateOrganizationSession opens an organization session in country and
// returns its session id. The identifier is validated first and sent in its
// canonical form; an invalid one is a Permanent error wrapping
// identifier.ErrInvalid, and nothing is sent.
//
// A create that fails in a way that leaves its outcome unknown (a timeout,
// a 500) is retried like any transient failure, with a warning in the log:
// the API may have opened a session anyway, so a duplicate may result.
func (c *Client) CreateOrganizationSession(ctx context.Context, country Country, req CreateSessionRequest, opts CreateOptions) (string, error) {
	op := "create organization session " + string(country)
	if !country.Valid() {
		return "", &Error{Op: op, Class: Permanent, Err: fmt.Errorf("unknown country %q, want %s, %s or %s", country, NO, SE, FI)}
	}
	orgKind, _ := identifier.ForCountry(string(country))
	return c.create(ctx, op, CreateOrganizationPath(country), req, opts.IdentifierKind, orgKind)
}

// CreateBeneficialSession opens a beneficial owners session and returns its
// session id. The identifier is a Norwegian organization number, or a DUNS
// number when opts say so; it is validated as for
// CreateOrganizationSession.
func (c *Client) CreateBeneficialSession(ctx context.Context, req CreateSessionRequest, opts CreateOptions) (string, error) {
	return c.create(ctx, "create beneficial owners session", CreateBeneficialPath, req, opts.IdentifierKind, identifier.NorwegianOrgNumber)
}

func (c *Client) create(ctx context.Context, op, path string, req CreateSessionRequest, kind, orgKind identifier.Kind) (string, error) {
	if kind == "" {
		kind = orgKind
	}
	if kind != orgKind && kind != identifier.DUNS {
		return "", &Error{Op: op, Class: Permanent, Err: &identifier.Error{
			Kind: kind, Value: req.Identifier,
			Reason: fmt.Sprintf("not accepted here; want a %s or a %s", orgKind.Description(), identifier.DUNS.Description()),
		}}
	}
	id, err := identifier.Normalize(kind, req.Identifier)
	if err != nil {
		return "", &Error{Op: op, Class: Permanent, Err: err}
	}
	req.Identifier, req.IdentifierType = id, "" // req is our copy
	if kind == identifier.DUNS {
		req.IdentifierType = IdentifierTypeDUNS
	}
	body, err := json.Marshal(req)
	if err != nil {
		return "", &Error{Op: op, Class: Permanent, Err: fmt.Errorf("encode request: %w", err)}
	}
	resp, err := c.send(ctx, &call{op: op, method: http.MethodPost, url: c.baseURL + path, body: body, notFound: Permanent, create: true})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	// From here on the session exists upstream: failures are Permanent, so
	// that nobody opens another one by retrying.
	var created SessionCreated
	if err := decodeJSON(resp.Body, &created); err != nil {
		return "", &Error{Op: op, StatusCode: resp.StatusCode, Class: Permanent, Err: fmt.Errorf("decode answer: %w", err)}
	}
	if created.SessionID == "" {
		return "", &Error{Op: op, StatusCode: resp.StatusCode, Class: Permanent, Err: errors.New("answer has no sessionId")}
	}
	return created.SessionID, nil
}

// Session returns the status of a session and the links of its results. A
// session that is unknown or past its lifetime is an Expired error.
// Unknown statuses and fields are tolerated (see DecodeSession).
func (c *Client) Session(ctx context.Context, kind Kind, sessionID string) (*Session, error) {
	op := "get " + string(kind) + " session"
	if kind != KindOrganization && kind != KindBeneficial {
		return nil, &Error{Op: op, Class: Permanent, Err: fmt.Errorf("unknown session kind %q", kind)}
	}
	if sessionID == "" {
		return nil, &Error{Op: op, Class: Permanent, Err: errors.New("empty session id")}
	}
	resp, err := c.send(ctx, &call{op: op, method: http.MethodGet, url: c.baseURL + SessionPath(kind, sessionID), notFound: Expired})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSessionBody+1))
	if err != nil {
		return nil, &Error{Op: op, StatusCode: resp.StatusCode, Class: transportClass(err), Err: fmt.Errorf("read answer: %w", err)}
	}
	if len(body) > maxSessionBody {
		return nil, &Error{Op: op, StatusCode: resp.StatusCode, Class: Unreadable, Shape: "over 1 MiB", Err: errors.New("answer too large")}
	}
	s, err := DecodeSession(bytes.NewReader(body))
	if err != nil {
		return nil, &Error{Op: op, StatusCode: resp.StatusCode, Class: Unreadable, Shape: Shape(body), Err: err}
	}
	s.fillLinks(kind, sessionID)
	return s, nil
}

// maxSessionBody bounds a session answer we read (they are a few hundred
// bytes).
const maxSessionBody = 1 << 20

// fillLinks gives every READY entity without a link the model's content
// path (ContentLink), as the guides' example shape lists no links.
func (s *Session) fillLinks(kind Kind, sessionID string) {
	if s.JSONData.Status == EntityReady && s.JSONData.Link == "" {
		s.JSONData.Link, s.JSONData.Guessed = ContentLink(kind, sessionID, ""), true
	}
	for t, e := range s.Reports {
		if e.Status == EntityReady && e.Link == "" {
			e.Link, e.Guessed = ContentLink(kind, sessionID, t), true
			s.Reports[t] = e
		}
	}
}

// AccessRights tells whether we have delegated access to the Norwegian
// National Registry, which beneficial owners expands such as citizenship
// need.
func (c *Client) AccessRights(ctx context.Context) (*AccessRights, error) {
	const op = "get access rights"
	resp, err := c.send(ctx, &call{op: op, method: http.MethodGet, url: c.baseURL + AccessRightsPath, notFound: Permanent})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var ar AccessRights
	if err := decodeJSON(resp.Body, &ar); err != nil {
		return nil, &Error{Op: op, StatusCode: resp.StatusCode, Class: Permanent, Err: fmt.Errorf("decode answer: %w", err)}
	}
	return &ar, nil
}

// Download is a result being downloaded. The caller reads and closes Body.
type Download struct {
	// Body streams the content; it is never read whole into memory.
	Body io.ReadCloser
	// Size is the content length in bytes, -1 if unknown.
	Size int64
	// ContentType is the Content-Type header, e.g. ContentTypeJSON or
	// ContentTypePDF.
	ContentType string
}

// Download starts downloading a result from a link of a Session (Entity.Link).
// A relative link is resolved against the base URL. The link must be on the
// API host (the scheme and host of Config.BaseURL): the access token is
// never sent elsewhere, and a link to another host is a Permanent error
// wrapping ErrForeignLink.
//
// Failures before the body is returned are retried like any call; once the
// body is returned, an error while reading it is the caller's to handle
// (ClassOf says Transient for a broken connection). A result past its
// lifetime is an Expired error.
func (c *Client) Download(ctx context.Context, link string) (*Download, error) {
	u, err := c.resolveLink(link)
	if err != nil {
		return nil, &Error{Op: "download", Class: Permanent, Err: err}
	}
	resp, err := c.send(ctx, &call{op: "download " + u.EscapedPath(), method: http.MethodGet, url: u.String(), notFound: Expired, stream: true}) //nolint:bodyclose // the body is the caller's to close (Download.Body)
	if err != nil {
		return nil, err
	}
	return &Download{Body: resp.Body, Size: resp.ContentLength, ContentType: resp.Header.Get("Content-Type")}, nil
}

// resolveLink resolves link against the base URL and checks that it is on
// the API host.
func (c *Client) resolveLink(link string) (*url.URL, error) {
	if link == "" {
		return nil, errors.New("empty link")
	}
	ref, err := url.Parse(link)
	if err != nil {
		return nil, fmt.Errorf("parse link: %w", err)
	}
	u := c.base.ResolveReference(ref)
	if !sameOrigin(u, c.base) {
		return nil, fmt.Errorf("%w: %s://%s is not the API host %s://%s, and our access token is only ever sent to the API host",
			ErrForeignLink, u.Scheme, u.Host, c.base.Scheme, c.base.Host)
	}
	return u, nil
}

// withoutCrossOriginAuth returns a copy of hc whose redirects never carry
// credentials to another origin: the Authorization header (our bearer
// token, or Basic client credentials) is dropped, and a request with a
// body (a token request may carry client_secret in its form) is not
// redirected across origins at all. Go's own rule keeps Authorization for
// the same host on another port or scheme, and for subdomains.
func withoutCrossOriginAuth(hc *http.Client) *http.Client {
	c := *hc
	next := hc.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > 0 && !sameOrigin(req.URL, via[0].URL) {
			if via[0].Method != http.MethodGet && via[0].Method != http.MethodHead {
				return fmt.Errorf("refusing a redirect of %s %s to another origin, %s", via[0].Method, via[0].URL.Redacted(), req.URL.Redacted())
			}
			req.Header.Del("Authorization")
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &c
}

// sameOrigin reports whether a and b have the same scheme, host and port.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) &&
		strings.EqualFold(a.Hostname(), b.Hostname()) &&
		portOf(a) == portOf(b)
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
		return "80"
	case "https":
		return "443"
	}
	return ""
}
