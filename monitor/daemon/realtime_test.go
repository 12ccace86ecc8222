package daemon_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/daemon"
	"github.com/geowatch/geowatch/monitor/rule"
	"github.com/geowatch/geowatch/store/sqlite"
	"github.com/paulmach/orb"
	"go.uber.org/zap"
)

// slowRule is a rule that takes a while to evaluate (bubble time) and reads
// reach metres beyond its watch.
type slowRule struct {
	monitor.Rule
	took  time.Duration
	reach float64
}

func (r slowRule) ReachMeters() float64 { return r.reach }

func (r slowRule) Evaluate(in monitor.Input) []monitor.Finding {
	time.Sleep(r.took)
	return r.Rule.Evaluate(in)
}

// TestRealtimeEvaluation: a watch scheduled hourly with realtime 1s, on a real
// store, is evaluated 1 s after an ingest that adds data in its area grown by
// its rules' reach, once for a burst, again after an evaluation that a trigger
// arrived during; data elsewhere, or data already stored, triggers nothing; a
// reload that removes the watch stops its triggers and one that adds a watch
// starts them. The bubble's clock makes the times exact.
func TestRealtimeEvaluation(t *testing.T) {
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
		sub := &punctual{}
		engine.SetNotifiers([]monitor.Notifier{sub})

		count, err := rule.NewCount(rule.CountParams{Min: 3, Window: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		const debounce = time.Second
		const took = 2 * time.Second
		port := orb.Point{131.9, 43.1}
		watch := func(name string, c orb.Point, took time.Duration) daemon.WatchJob {
			return daemon.WatchJob{Schedule: "@every 1h", Fingerprint: "1", Realtime: debounce, Watch: &monitor.Watch{
				Name: name, Center: c, RadiusMeters: 5000,
				Rules: []monitor.NamedRule{{Name: "count", Type: "count", Rule: slowRule{count, took, 3000}}}}}
		}
		jobs := []daemon.WatchJob{watch("port", port, took), watch("far", orb.Point{100, 10}, took)}
		d := daemon.New(engine, zap.NewNop(), daemon.Options{})
		engine.OnIngest(d.Ingested)
		if _, err := d.Apply(nil, jobs); err != nil {
			t.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		ready := make(chan struct{})
		go func() { done <- d.Run(runCtx, func() { close(ready) }) }()
		<-ready
		synctest.Wait()
		base := map[string]int{"port": len(metrics.of("port")), "far": len(metrics.of("far"))}
		if base["port"] != 1 || base["far"] != 1 {
			t.Fatalf("first pass evaluated port %d, far %d times, want 1 each", base["port"], base["far"])
		}

		n := 0
		observed := time.Now() // every record's time, so that pushing one again changes nothing
		push := func(p orb.Point) monitor.IngestResult {
			n++
			res, _, err := engine.IngestRecords(ctx, "push", monitor.Batch{Observations: []monitor.Observation{{
				ID: fmt.Sprintf("p%d", n), Time: observed, Point: p, Kind: "report"}}}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		// evals returns when watch's evaluations since the first pass started.
		evals := func(watch string) []time.Time { return metrics.of(watch)[base[watch]:] }

		// Outside every watch's area: nothing.
		push(orb.Point{140, 50})
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := evals("port"); len(got) != 0 || len(evals("far")) != 0 || d.RealtimeEvaluations() != 0 {
			t.Fatalf("a push outside every area triggered evaluations: port %v, far %v", got, evals("far"))
		}

		// A burst of three in the area within the debounce: one evaluation, a
		// debounce after the first, and the alert fires then.
		t0 := time.Now()
		inside := orb.Point{port[0] + 0.08, port[1]} // outside the 5 km circle, inside its 3 km reach
		if dist := geo.Distance(port, inside); dist < 5500 || dist > 7500 {
			t.Fatalf("test point %.0f m from the centre, want 5.5–7.5 km", dist)
		}
		for range 3 {
			if res := push(inside); res.Added != 1 {
				t.Fatalf("push: %+v", res)
			}
			time.Sleep(300 * time.Millisecond)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		got := evals("port")
		if len(got) != 1 || got[0].Sub(t0) != debounce {
			t.Fatalf("a burst of 3 pushes: port evaluated at %v after the first, want once at %v", since(got, t0), debounce)
		}
		if len(evals("far")) != 0 {
			t.Errorf("far evaluated at %v for data in port's area", since(evals("far"), t0))
		}
		sub.mu.Lock()
		if len(sub.got) != 1 || sub.got[0].Transition.To != monitor.StateFiring || sub.at[0].Sub(t0) != debounce+took {
			t.Errorf("subscriber got %d events, first at %v; want one firing at %v", len(sub.got), since(sub.at, t0), debounce+took)
		}
		sub.mu.Unlock()

		// The same records again: nothing new, nothing evaluated.
		n = 1 // p2…p4, the burst
		for range 3 {
			push(inside)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := evals("port"); len(got) != 1 {
			t.Fatalf("re-pushed unchanged records triggered: %v", since(got, t0))
		}

		// A push while the triggered evaluation runs: one more, a debounce
		// after it ends.
		n = 10
		t1 := time.Now()
		push(inside)
		time.Sleep(debounce + took/2)
		push(inside)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		got = evals("port")[1:]
		want := []time.Duration{debounce, debounce + took + debounce}
		if len(got) != 2 || got[0].Sub(t1) != want[0] || got[1].Sub(t1) != want[1] {
			t.Fatalf("push during an evaluation: evaluated at %v, want %v", since(got, t1), want)
		}
		if r := d.RealtimeEvaluations(); r != 3 {
			t.Errorf("%d real-time evaluations, want 3", r)
		}

		// A reload that drops port and adds port2 on the same place: port is
		// no longer triggered, port2 is. (port2 is quick: Apply's Retire waits
		// for the evaluation Apply starts, a wait on a mutex, which the bubble
		// does not count as blocked, so a sleeping rule would stop its clock.)
		if _, err := d.Apply(nil, []daemon.WatchJob{watch("port2", port, 0), jobs[1]}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second) // port2's first evaluation, at the reload
		synctest.Wait()
		base["port2"] = len(metrics.of("port2"))
		t2 := time.Now()
		push(port)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := evals("port"); len(got) != 3 {
			t.Errorf("removed watch port evaluated after the reload: %v", since(got[3:], t2))
		}
		if got := evals("port2"); len(got) != 1 || got[0].Sub(t2) != debounce {
			t.Errorf("watch port2 added by the reload: evaluated at %v after the push, want %v", since(got, t2), debounce)
		}

		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		// Stopped: an ingest triggers nothing.
		push(port)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := evals("port2"); len(got) != 1 {
			t.Errorf("after the stop, port2 evaluated at %v", since(got, t2))
		}
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := engine.Close(closeCtx); err != nil {
			t.Fatal(err)
		}
	})
}

func since(ts []time.Time, t0 time.Time) []time.Duration {
	out := make([]time.Duration, len(ts))
	for i, t := range ts {
		out[i] = t.Sub(t0)
	}
	return out
}
