package bridge

// Verify: how a webhook is authenticated (WEBHOOK_VERIFY). BankID's real
// scheme is unknown (docs/design.md), so the bridge offers several; each is
// a Verifier, and the handler asks the one configured.

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
)

// The verification modes (WEBHOOK_VERIFY).
const (
	// ModeStandardWebhooks checks the Standard Webhooks signature with
	// WEBHOOK_SECRET (the default).
	ModeStandardWebhooks = "standard-webhooks"
	// ModeBearer checks "Authorization: Bearer <token>": a static token
	// (WEBHOOK_BEARER_TOKEN) or a JWT (WEBHOOK_JWKS_URL).
	ModeBearer = "bearer"
	// ModeHint takes unsigned webhooks as hints, rate-limited per lookup.
	ModeHint = "hint"
)

// Modes lists the verification modes.
var Modes = []string{ModeStandardWebhooks, ModeBearer, ModeHint}

// How a published webhook was authenticated: the value of HeaderAuth on
// the republished message, and the auth label of the published metric.
const (
	AuthStandardWebhooks = "standard-webhooks"
	AuthBearerToken      = "bearer-token"
	AuthBearerJWT        = "bearer-jwt"
	AuthHint             = "hint" // not authenticated at all
)

// HeaderAuth on a republished webhook says how the bridge authenticated it
// (an Auth value). The bridge builds the message's headers itself, so a
// sender cannot set it.
const HeaderAuth = "Kybflow-Webhook-Auth"

// Verification errors. Each is returned wrapped; test with errors.Is.
var (
	// ErrUnauthorized: the webhook is not authenticated (answered 401).
	ErrUnauthorized = errors.New("webhook not authenticated")
	// ErrHintLimited: the lookup had its share of hints this minute
	// (answered 429 with Retry-After).
	ErrHintLimited = errors.New("too many webhook hints for this lookup")
)

// Verifier authenticates one webhook of a lookup, with its body already
// read. It returns how (an Auth value), or an error wrapping
// ErrUnauthorized or ErrHintLimited. It must be safe for concurrent use.
type Verifier interface {
	Verify(r *http.Request, lookupID string, body []byte) (auth string, err error)
}

// StandardWebhooks checks the Standard Webhooks signature (amlapi.VerifyWebhook)
// against one secret or several (a rotation).
type StandardWebhooks struct {
	secrets   string
	tolerance time.Duration
	now       func() time.Time
}

// NewStandardWebhooks checks secrets (whsec_<base64> or <base64>, several
// separated by spaces or commas) and returns their verifier. tolerance 0 is
// amlapi.DefaultWebhookTolerance; now nil is time.Now.
func NewStandardWebhooks(secrets string, tolerance time.Duration, now func() time.Time) (*StandardWebhooks, error) {
	if _, err := amlapi.ParseWebhookSecrets(secrets); err != nil {
		return nil, fmt.Errorf("standard webhooks: %w", err)
	}
	if tolerance <= 0 {
		tolerance = amlapi.DefaultWebhookTolerance
	}
	if now == nil {
		now = time.Now
	}
	return &StandardWebhooks{secrets: secrets, tolerance: tolerance, now: now}, nil
}

// Verify implements Verifier.
func (v *StandardWebhooks) Verify(r *http.Request, _ string, body []byte) (string, error) {
	if err := amlapi.VerifyWebhook(v.secrets, r.Header, body, v.now(), v.tolerance); err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	return AuthStandardWebhooks, nil
}

// BearerTokens checks a static bearer token against one token or several (a
// rotation), in constant time.
type BearerTokens struct {
	sums [][sha256.Size]byte // of each accepted token
}

// NewBearerTokens checks tokens (several separated by spaces or commas, each
// token68 and at least amlapi.MinBearerTokenLength long) and returns their
// verifier. Errors say which token, never quoting it.
func NewBearerTokens(tokens string) (*BearerTokens, error) {
	list := amlapi.SplitSecrets(tokens)
	if len(list) == 0 {
		return nil, errors.New("bearer tokens: none given")
	}
	v := &BearerTokens{}
	for i, tok := range list {
		if err := amlapi.CheckBearerToken(tok); err != nil {
			return nil, fmt.Errorf("bearer token %d of %d: %w", i+1, len(list), err)
		}
		if len(tok) < amlapi.MinBearerTokenLength {
			return nil, fmt.Errorf("bearer token %d of %d: shorter than %d characters", i+1, len(list), amlapi.MinBearerTokenLength)
		}
		v.sums = append(v.sums, sha256.Sum256([]byte(tok)))
	}
	return v, nil
}

// Verify implements Verifier. The token's digest is compared with every
// accepted token's in constant time (digests, so that no length is told
// either), all of them whether one matched or not.
func (v *BearerTokens) Verify(r *http.Request, _ string, _ []byte) (string, error) {
	tok, err := amlapi.BearerToken(r.Header)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	sum := sha256.Sum256([]byte(tok))
	match := 0
	for i := range v.sums {
		match |= subtle.ConstantTimeCompare(sum[:], v.sums[i][:])
	}
	if match != 1 {
		return "", fmt.Errorf("%w: the bearer token is not one of WEBHOOK_BEARER_TOKEN", ErrUnauthorized)
	}
	return AuthBearerToken, nil
}

// Defaults of hint mode.
const (
	// DefaultHintLimit is how many hints one lookup may get per HintWindow.
	// A session sends four webhooks or so (JSON, a report or two, done);
	// the rest is room for re-sends.
	DefaultHintLimit = 10
	// HintWindow is the window of the hint limit.
	HintWindow = time.Minute
	// MaxHintLookups bounds the lookups the limiter remembers at once
	// (about 100 bytes each): past it, hints for new lookups are refused
	// until windows end, so that a flood of made-up lookup ids costs no
	// memory.
	MaxHintLookups = 100_000
)

// Hints takes every webhook, unauthenticated, as a hint: at most limit per
// lookup per HintWindow (a fixed window per lookup), the rest ErrHintLimited.
type Hints struct {
	limit   int
	max     int
	now     func() time.Time
	mu      sync.Mutex
	windows map[string]hintWindow // by lookup key; guarded by mu
	swept   time.Time             // the last sweep of ended windows; guarded by mu
}

type hintWindow struct {
	start time.Time
	n     int
}

// NewHints returns the hint limiter: limit hints per lookup per HintWindow
// (limit ≤ 0 is DefaultHintLimit); now nil is time.Now.
func NewHints(limit int, now func() time.Time) *Hints {
	if limit <= 0 {
		limit = DefaultHintLimit
	}
	if now == nil {
		now = time.Now
	}
	return &Hints{limit: limit, max: MaxHintLookups, now: now, windows: map[string]hintWindow{}}
}

// HintLimitedError is ErrHintLimited with when to try again.
type HintLimitedError struct{ RetryAfter time.Duration }

func (e *HintLimitedError) Error() string {
	return fmt.Sprintf("%v; retry in %s", ErrHintLimited, e.RetryAfter.Round(time.Second))
}

// Unwrap makes errors.Is(err, ErrHintLimited) true.
func (e *HintLimitedError) Unwrap() error { return ErrHintLimited }

// Verify implements Verifier: it authenticates nothing, and counts.
func (v *Hints) Verify(_ *http.Request, lookupID string, _ []byte) (string, error) {
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	w, known := v.windows[lookupID]
	if !known || now.Sub(w.start) >= HintWindow {
		if !known && len(v.windows) >= v.max && now.Sub(v.swept) >= time.Second {
			// At most a sweep a second, however many hints come.
			v.swept = now
			for k, old := range v.windows {
				if now.Sub(old.start) >= HintWindow {
					delete(v.windows, k)
				}
			}
		}
		if !known && len(v.windows) >= v.max {
			return "", &HintLimitedError{RetryAfter: HintWindow}
		}
		w = hintWindow{start: now}
	}
	if w.n >= v.limit {
		return "", &HintLimitedError{RetryAfter: max(w.start.Add(HintWindow).Sub(now), time.Second)}
	}
	w.n++
	v.windows[lookupID] = w
	return AuthHint, nil
}
