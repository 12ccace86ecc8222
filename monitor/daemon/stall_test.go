package daemon_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/daemon"
	"github.com/geowatch/geowatch/monitor/rule"
	"github.com/geowatch/geowatch/store/sqlite"
	"github.com/paulmach/orb"
	"go.uber.org/zap"
)

// stalled is a subscriber that does not answer until released: each call waits
// for release or for the engine's delivery deadline.
type stalled struct {
	release chan struct{}
	mu      sync.Mutex
	calls   int
	got     []int64 // transitions taken, in order
}

func (s *stalled) Name() string { return "stalled" }

func (s *stalled) Notify(ctx context.Context, ev monitor.Event) error {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, ev.Transition.ID)
	return nil
}

// punctual records when each transition reached it.
type punctual struct {
	mu  sync.Mutex
	got []monitor.Event
	at  []time.Time
}

func (p *punctual) Name() string { return "punctual" }

func (p *punctual) Notify(_ context.Context, ev monitor.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, ev)
	p.at = append(p.at, time.Now())
	return nil
}

// evalTimes records when each watch's rules were evaluated.
type evalTimes struct {
	monitor.NopMetrics
	mu sync.Mutex
	at map[string][]time.Time
}

func (m *evalTimes) RuleEvaluation(watch, _ string) func() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.at[watch] = append(m.at[watch], time.Now())
	return func() {}
}

func (m *evalTimes) of(watch string) []time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.at[watch])
}

// maxGap is the longest interval between consecutive times, and from the last
// to end.
func maxGap(ts []time.Time, end time.Time) time.Duration {
	var g time.Duration
	for i := 1; i < len(ts); i++ {
		g = max(g, ts[i].Sub(ts[i-1]))
	}
	if len(ts) > 0 {
		g = max(g, end.Sub(ts[len(ts)-1]))
	}
	return g
}

// TestStalledSubscriber: a subscriber that does not answer for 5 minutes, with
// 20 transitions queued for it, delays nothing but itself. Every other watch is
// evaluated on its schedule, the heartbeat (the watchdog ping) keeps its period
// and reads the open alerts (the STATUS line) without waiting, the other
// subscriber gets each transition at once, and once the stalled one answers it
// gets all 20, in order, once each. The bubble's clock makes the 5 minutes
// instant and the figures exact.
func TestStalledSubscriber(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "geowatch.gpkg"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		engine, err := monitor.NewEngine(ctx, db, zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		metrics := &evalTimes{at: map[string][]time.Time{}}
		engine.SetMetrics(metrics)
		slow := &stalled{release: make(chan struct{})}
		fast := &punctual{}
		engine.SetNotifiers([]monitor.Notifier{slow, fast})

		// 20 watches fire at their first evaluation: 20 transitions for each
		// subscriber. A 21st watch stays quiet and is evaluated every minute.
		start := time.Now()
		var batch monitor.Batch
		var jobs []daemon.WatchJob
		count, err := rule.NewCount(rule.CountParams{Min: 1, Window: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 21 {
			p := orb.Point{100 + float64(i), 10}
			if i < 20 {
				batch.Observations = append(batch.Observations, monitor.Observation{
					ID: fmt.Sprintf("r%d", i), Time: start.Add(-time.Minute), Point: p, Kind: "report"})
			}
			jobs = append(jobs, daemon.WatchJob{Schedule: "@every 1m", Fingerprint: "1", Watch: &monitor.Watch{
				Name: fmt.Sprintf("w%02d", i), Center: p, RadiusMeters: 1000,
				Rules: []monitor.NamedRule{{Name: "any", Type: "count", Rule: count}}}})
		}
		if _, err := engine.Ingest(ctx, "test", batch, start); err != nil {
			t.Fatal(err)
		}

		var beatMu sync.Mutex
		var beats []time.Time
		d := daemon.New(engine, zap.NewNop(), daemon.Options{
			HeartbeatEvery: 30 * time.Second,
			Heartbeat: func(context.Context) {
				open := engine.OpenAlerts() // what the STATUS line shows
				beatMu.Lock()
				defer beatMu.Unlock()
				beats = append(beats, time.Now())
				if len(open) != 20 {
					t.Errorf("STATUS at %v: %d open alerts, want 20", time.Since(start), len(open))
				}
			},
		})
		if _, err := d.Apply(nil, jobs); err != nil {
			t.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- d.Run(runCtx, nil) }()

		time.Sleep(5 * time.Minute)
		synctest.Wait()
		stalledAt := time.Now()
		quiet := metrics.of("w20")
		if len(quiet) < 5 || maxGap(quiet, stalledAt) > time.Minute {
			t.Errorf("while a subscriber stalled, the quiet watch was evaluated %d times in 5 min, longest gap %v; want every minute",
				len(quiet), maxGap(quiet, stalledAt))
		}
		beatMu.Lock()
		nBeats, beatGap := len(beats), maxGap(beats, stalledAt)
		beatMu.Unlock()
		if nBeats < 9 || beatGap > 30*time.Second {
			t.Errorf("heartbeat: %d in 5 min, longest gap %v; want one every 30 s", nBeats, beatGap)
		}
		fast.mu.Lock()
		if len(fast.got) != 20 {
			t.Errorf("the other subscriber got %d transitions while one stalled, want 20", len(fast.got))
		}
		for i, ev := range fast.got {
			if late := fast.at[i].Sub(ev.Transition.At); late > 0 {
				t.Errorf("the other subscriber got transition %d %v late", ev.Transition.ID, late)
			}
		}
		fast.mu.Unlock()
		slow.mu.Lock()
		if len(slow.got) != 0 || slow.calls < 2 {
			t.Errorf("stalled subscriber: took %d, was tried %d times; want 0 taken and retries", len(slow.got), slow.calls)
		}
		slow.mu.Unlock()

		close(slow.release) // it answers again
		if err := engine.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		slow.mu.Lock()
		got := slices.Clone(slow.got)
		slow.mu.Unlock()
		if len(got) != 20 || !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != 20 {
			t.Errorf("once it answered, the stalled subscriber got %v, want 20 transitions in order, once each", got)
		}
		t.Logf("stall of %v: quiet watch evaluated %d times (longest gap %v), %d heartbeats (longest gap %v), "+
			"other subscriber on time, stalled one got %d of 20 in order after %v", stalledAt.Sub(start), len(quiet),
			maxGap(quiet, stalledAt), nBeats, beatGap, len(got), time.Since(stalledAt))
		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := engine.Close(closeCtx); err != nil {
			t.Fatal(err)
		}
	})
}
