package e2e

// Fault injection: NATS servers killed and restarted, workers killed round-robin and replaced.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// faultKillNATSServers kills one server every `every` (the k-th kill at
// began+(k+1)·every), every other time the leader of AML_COMMANDS and
// otherwise the server after the last victim, keeps it down for `down` and
// starts it again on its store, until stop is closed. It returns a line per
// kill.
func faultKillNATSServers(stop <-chan struct{}, js jetstream.JetStream, servers []*fproc, began time.Time, every, down time.Duration) (kills []string, errs []error) {
	prev := -1
	for k := 0; ; k++ {
		select {
		case <-stop:
			return kills, errs
		case <-time.After(time.Until(began.Add(time.Duration(k+1) * every))):
		}
		leader, state := faultCommandsLeader(js)
		victim, why := (prev+1)%len(servers), "next"
		if k%2 == 0 {
			if leader >= 0 {
				victim, why = leader, "leader"
			} else {
				why = "next, leader unknown"
			}
		}
		servers[victim].kill()
		killed := time.Now()
		time.Sleep(down) // sleep: the outage itself, kept even if stop comes meanwhile
		if err := servers[victim].start(); err != nil {
			errs = append(errs, err)
		}
		kills = append(kills, fmt.Sprintf("%s n%d %s (%s)", faultRound(killed.Sub(began)), victim, why, state))
		prev = victim
	}
}

// faultCommandsLeader is the index of the server leading AML_COMMANDS (-1 if
// unknown) and a short account of its replicas.
func faultCommandsLeader(js jetstream.JetStream) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "AML_COMMANDS")
	if err != nil {
		return -1, "info: " + err.Error()
	}
	ci := s.CachedInfo().Cluster
	if ci == nil || ci.Leader == "" {
		return -1, "no leader"
	}
	state := []string{"L=" + ci.Leader}
	for _, r := range ci.Replicas {
		switch {
		case r.Offline:
			state = append(state, r.Name+":offline")
		case !r.Current:
			state = append(state, fmt.Sprintf("%s:lag %d", r.Name, r.Lag))
		default:
			state = append(state, r.Name+":ok")
		}
	}
	var i int
	if _, err := fmt.Sscanf(ci.Leader, "n%d", &i); err != nil {
		return -1, strings.Join(state, " ")
	}
	return i, strings.Join(state, " ")
}

// faultWorkerPool is the worker processes of BenchmarkLatencyWhileWorkersKilled:
// slots of running workers, and every worker ever started.
type faultWorkerPool struct {
	spawn func(name, ops string) *fproc

	mu        sync.Mutex
	all       []*fproc
	ops       []string // of all
	slots     []int    // index into all
	readiness sync.WaitGroup
	readyIn   []time.Duration // of replacements
	notReady  int             // replacements killed (or failed) before ready
	kills     int
}

func (wp *faultWorkerPool) everyWorker() []*fproc {
	wp.mu.Lock()
	defer wp.mu.Unlock()
	return slices.Clone(wp.all)
}

// add starts a worker in a new slot.
func (wp *faultWorkerPool) add() error {
	i, err := wp.startWorker()
	if err != nil {
		return err
	}
	wp.mu.Lock()
	wp.slots = append(wp.slots, i)
	wp.mu.Unlock()
	return nil
}

func (wp *faultWorkerPool) startWorker() (int, error) {
	ops, err := faultFreeAddr()
	if err != nil {
		return -1, err
	}
	wp.mu.Lock()
	i := len(wp.all)
	p := wp.spawn(fmt.Sprintf("worker %d", i+1), ops)
	wp.all, wp.ops = append(wp.all, p), append(wp.ops, ops)
	wp.mu.Unlock()
	return i, p.start()
}

// waitReady waits until the worker in every slot answers /readyz.
func (wp *faultWorkerPool) waitReady() error {
	wp.mu.Lock()
	var procs []*fproc
	var urls []string
	for _, i := range wp.slots {
		procs, urls = append(procs, wp.all[i]), append(urls, "http://"+wp.ops[i]+"/readyz")
	}
	wp.mu.Unlock()
	errs := make([]error, len(procs))
	var wg sync.WaitGroup
	for j := range procs {
		wg.Go(func() { errs[j] = faultWaitOK(urls[j], procs[j], 3*time.Minute) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// killRoundRobin kills the worker of the next slot every `every` (the k-th
// kill at began+(k+1)·every) and starts a replacement in its slot at once,
// until stop is closed.
func (wp *faultWorkerPool) killRoundRobin(stop <-chan struct{}, began time.Time, every time.Duration) []error {
	var errs []error
	for k := 0; ; k++ {
		select {
		case <-stop:
			return errs
		case <-time.After(time.Until(began.Add(time.Duration(k+1) * every))):
		}
		wp.mu.Lock()
		slot := k % len(wp.slots)
		victim := wp.all[wp.slots[slot]]
		wp.mu.Unlock()
		victim.kill()
		started := time.Now()
		i, err := wp.startWorker()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		wp.mu.Lock()
		wp.slots[slot] = i
		wp.kills++
		p, url := wp.all[i], "http://"+wp.ops[i]+"/readyz"
		wp.mu.Unlock()
		wp.readiness.Go(func() {
			err := faultWaitOK(url, p, time.Minute)
			wp.mu.Lock()
			defer wp.mu.Unlock()
			if err != nil {
				wp.notReady++
			} else {
				wp.readyIn = append(wp.readyIn, time.Since(started))
			}
		})
	}
}

func (wp *faultWorkerPool) summary() string {
	wp.mu.Lock()
	defer wp.mu.Unlock()
	ready := slices.Clone(wp.readyIn)
	slices.Sort(ready)
	var med, most time.Duration
	if len(ready) > 0 {
		med, most = ready[len(ready)/2], ready[len(ready)-1]
	}
	return fmt.Sprintf("%d workers killed and replaced; replacements ready after median %s, at most %s (%d killed before ready)",
		wp.kills, faultRound(med), faultRound(most), wp.notReady)
}
