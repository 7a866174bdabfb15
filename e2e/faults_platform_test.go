package e2e

// The fault benchmarks' platform: lookups published at a steady pace, retried until acknowledged.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// faultPlatform publishes lookup commands at a steady pace, as a platform would:
// each publish is retried with the same Nats-Msg-Id until JetStream
// acknowledges it. A slow publish does not hold up the next one.
type faultPlatform struct {
	ids      []string
	first    []time.Time // of the first publish attempt
	ackedAt  []time.Time
	acked    []bool
	attempts []int
	lastErr  []error
	done     chan struct{} // closed when every publish was acknowledged or given up
	took     time.Duration // from the first attempt to the last acknowledgement
}

func faultPublishSteadily(ctx context.Context, js jetstream.JetStream, n int, span time.Duration) *faultPlatform {
	p := &faultPlatform{ids: make([]string, n), first: make([]time.Time, n), ackedAt: make([]time.Time, n), acked: make([]bool, n),
		attempts: make([]int, n), lastErr: make([]error, n), done: make(chan struct{})}
	interval := span / time.Duration(n)
	go func() {
		defer close(p.done)
		begin := time.Now()
		var wg sync.WaitGroup
		for i := range n {
			p.ids[i] = fmt.Sprintf("f-%03d", i)
			select {
			case <-time.After(time.Until(begin.Add(time.Duration(i) * interval))):
			case <-ctx.Done():
				return
			}
			wg.Go(func() { p.publish(ctx, js, i) })
		}
		wg.Wait()
		p.took = time.Since(begin)
	}()
	return p
}

func (p *faultPlatform) publish(ctx context.Context, js jetstream.JetStream, i int) {
	id := p.ids[i]
	body := fmt.Sprintf(`{"lookupId":%q,"type":"organization","identifier":"923609016","reports":["aml"]}`, id)
	p.first[i] = time.Now()
	giveUp := p.first[i].Add(faultPublishGiveUp)
	for {
		p.attempts[i]++
		actx, cancel := context.WithTimeout(ctx, faultPublishTimeout)
		_, err := js.Publish(actx, "aml.commands.lookup", []byte(body), jetstream.WithMsgID(id))
		cancel()
		if err == nil {
			p.acked[i], p.ackedAt[i] = true, time.Now()
			return
		}
		p.lastErr[i] = err
		if ctx.Err() != nil || time.Now().After(giveUp) {
			return
		}
		select {
		case <-time.After(250 * time.Millisecond):
		case <-ctx.Done():
			return
		}
	}
}

// The methods below read what publish wrote: only after done is closed.

func (p *faultPlatform) ackedIndexes() []int {
	var out []int
	for i, ok := range p.acked {
		if ok {
			out = append(out, i)
		}
	}
	return out
}

func (p *faultPlatform) ackedIDs() []string {
	var out []string
	for _, i := range p.ackedIndexes() {
		out = append(out, p.ids[i])
	}
	return out
}

func (p *faultPlatform) unacked() []string {
	var out []string
	for i, ok := range p.acked {
		if !ok {
			out = append(out, fmt.Sprintf("%s (%d attempts, last: %v)", p.ids[i], p.attempts[i], p.lastErr[i]))
		}
	}
	return out
}

func (p *faultPlatform) summary() string {
	retried, most := 0, 0
	errs := map[string]int{}
	var waits []float64
	for _, i := range p.ackedIndexes() {
		waits = append(waits, p.ackedAt[i].Sub(p.first[i]).Seconds())
	}
	slices.Sort(waits)
	for i, a := range p.attempts {
		if a > 1 {
			retried++
			errs[p.lastErr[i].Error()]++
		}
		most = max(most, a)
	}
	var kinds []string
	for e, n := range errs {
		kinds = append(kinds, fmt.Sprintf("%q ×%d", e, n))
	}
	slices.Sort(kinds)
	out := fmt.Sprintf("platform: %d lookups published in %s (%d acknowledged); first attempt to acknowledgement p50 %.1fs p99 %.1fs max %.1fs; %d needed retries, at most %d attempts",
		len(p.ids), faultRound(p.took), len(p.ackedIndexes()), faultPercentile(waits, 0.5), faultPercentile(waits, 0.99), faultPercentile(waits, 1), retried, most)
	if len(kinds) > 0 {
		out += "; last errors of those: " + strings.Join(kinds, ", ")
	}
	return out
}
