package sandbox

import "time"

// Fault injection: the knobs of Config.Faults.

// Faults are the fault knobs. Rates are probabilities in [0, 1], drawn from
// the seeded source of Config.Seed; 1 makes a knob deterministic. Special
// identifiers (see SpecialIdentifiers) behave the same whatever the rates.
type Faults struct {
	// Latency is added to every answer of the API and the token endpoint.
	Latency time.Duration
	// CreateLatency is added to every create-session answer, before the
	// session exists (a caller that goes away meanwhile opens nothing).
	CreateLatency time.Duration
	// ErrorRate: AML API calls answer 500 or 503 (half each), decided before
	// any state change, so a failed create opens no session. The token
	// endpoint is exempt.
	ErrorRate float64
	// RateLimitRate: AML API calls answer 429 with Retry-After.
	RateLimitRate float64
	// RetryAfter is the Retry-After of a 429, rounded up to whole seconds
	// (default 1s).
	RetryAfter time.Duration
	// FailRate: sessions that fail (status FAILED, Failed webhook).
	FailRate float64
	// WebhookDropRate: webhooks that are never sent.
	WebhookDropRate float64
	// WebhookDuplicateRate: webhooks sent twice, with the same webhook-id.
	WebhookDuplicateRate float64
	// WebhookReorderRate: for each pair of consecutive webhooks of a
	// session, the probability that the first is held back until just after
	// the second.
	WebhookReorderRate float64
	// WebhookDelay is added to the time of every webhook.
	WebhookDelay time.Duration
}

// retryAfterSeconds is the Retry-After header value: whole seconds, at
// least 1.
func (f Faults) retryAfterSeconds() int64 {
	s := int64((f.RetryAfter + time.Second - 1) / time.Second)
	return max(s, 1)
}
