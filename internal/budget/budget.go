// Package budget is the cap on paid sessions, shared by every replica: a
// session is taken from the budget before it is opened, by
// compare-and-set on a counter per window in a JetStream key-value bucket,
// so ten workers together open no more than the budget allows.
//
// A budget is a list of limits, each a number of sessions per window
// (SESSION_BUDGET, e.g. "100/1h,1000/24h"). Windows are aligned to the
// epoch (an hour's window runs from one full UTC hour to the next), and a
// session counts in the current window of every limit. A command over the
// budget is never failed for it: its session waits (Exhausted says until
// when) and is opened in a later window.
//
// On-demand lookups go before monitor runs when the budget is tight: a
// monitor's run takes a session only while more than the on-demand
// reserve of each window is left (ReserveOnDemand).
package budget

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limit is a number of sessions per window.
type Limit struct {
	Max    int
	Window time.Duration
}

func (l Limit) String() string { return fmt.Sprintf("%d/%s", l.Max, shortDuration(l.Window)) }

// ParseLimits reads a budget: comma-separated limits, each
// <sessions>/<window> with a Go duration ("100/1h,1000/24h"). The empty
// string is no budget (unlimited). A window must be a whole number of
// seconds, at least one, and divide a day or be a whole number of days,
// so that its windows line up with the clock.
func ParseLimits(s string) ([]Limit, error) {
	var out []Limit
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n, w, ok := strings.Cut(part, "/")
		if !ok {
			return nil, fmt.Errorf("%q: want <sessions>/<window>, e.g. 100/1h", part)
		}
		sessions, err := strconv.Atoi(strings.TrimSpace(n))
		if err != nil || sessions < 0 {
			return nil, fmt.Errorf("%q: %q is not a number of sessions", part, n)
		}
		window, err := time.ParseDuration(strings.TrimSpace(w))
		if err != nil {
			return nil, fmt.Errorf("%q: window %q: %w", part, w, err)
		}
		day := 24 * time.Hour
		if window < time.Second || window%time.Second != 0 || (window < day && day%window != 0) || (window > day && window%day != 0) {
			return nil, fmt.Errorf("%q: the window must be whole seconds that divide a day (1s…24h), or whole days", part)
		}
		out = append(out, Limit{Max: sessions, Window: window})
	}
	return out, nil
}

// Source is who a session is for: on-demand lookups go first.
type Source string

// The sources of a session.
const (
	OnDemand Source = "on_demand"
	Monitor  Source = "monitor"
)

// ReserveOnDemand is the share of each window kept for on-demand lookups:
// a monitor's run waits once less than that is left.
const ReserveOnDemand = 0.1

// allowed is how many sessions of a window source may count up to.
func (l Limit) allowed(s Source) int {
	if s == Monitor {
		reserve := int(float64(l.Max)*ReserveOnDemand + 0.999999)
		return max(l.Max-reserve, 0)
	}
	return l.Max
}

// Exhausted is the error of a Take over the budget: the limit that is
// full, when its window ends, and how long that is from the Take (by the
// budget's clock).
type Exhausted struct {
	Limit Limit
	Until time.Time
	Wait  time.Duration
}

func (e *Exhausted) Error() string {
	return fmt.Sprintf("session budget %s used up until %s", e.Limit, e.Until.UTC().Format(time.RFC3339))
}

// ErrExhausted is wrapped by every *Exhausted: errors.Is(err, ErrExhausted).
var ErrExhausted = errors.New("session budget used up")

// Is makes errors.Is(err, ErrExhausted) hold for an *Exhausted.
func (e *Exhausted) Is(target error) bool { return target == ErrExhausted }

// window is the index of the window of l that t falls in, and its end.
func (l Limit) window(t time.Time) (int64, time.Time) {
	w := int64(l.Window / time.Second)
	i := t.Unix() / w
	return i, time.Unix((i+1)*w, 0)
}

// key is the counter's key of window i of l.
func (l Limit) key(i int64) string {
	return fmt.Sprintf("w%d.%d", int64(l.Window/time.Second), i)
}

// shortDuration is d as a Go duration without zero units: 1h, 24h, 90s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
