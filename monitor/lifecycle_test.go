package monitor_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/rule"
	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/sqlite"
	"github.com/paulmach/orb"
	"go.uber.org/zap"
)

// recorder is a subscriber that keeps what it receives and can be made to fail.
type recorder struct {
	mu   sync.Mutex
	evs  []monitor.Event
	fail bool
}

func (r *recorder) Name() string { return "recorder" }

func (r *recorder) setFail(fail bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = fail
}

// deliveryRetry is longer than the outbox's first backoff.
const deliveryRetry = 2 * time.Second

func (r *recorder) Notify(_ context.Context, ev monitor.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("subscriber down")
	}
	r.evs = append(r.evs, ev)
	return nil
}

// states lists the announced transitions as "from>to" strings.
func (r *recorder) states() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ev := range r.evs {
		out = append(out, ev.Transition.From.String()+">"+ev.Transition.To.String())
	}
	return out
}

var (
	vladivostok = orb.Point{131.8855, 43.1155}
	t0          = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
)

func openStore(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// reports stores n reports at p, one a minute ending just before at.
func reports(t *testing.T, db *sqlite.DB, prefix string, p orb.Point, n int, at time.Time) {
	t.Helper()
	var b monitor.Batch
	for i := range n {
		b.Observations = append(b.Observations, monitor.Observation{
			ID: fmt.Sprintf("%s-%d", prefix, i), Time: at.Add(-time.Duration(i+1) * time.Minute),
			Point: orb.Point{p[0] + 0.001*float64(i%3), p[1] + 0.001*float64(i%2)}, Kind: "report",
		})
	}
	if _, err := db.Ingest(t.Context(), "test", b, at); err != nil {
		t.Fatal(err)
	}
}

func countWatch(t *testing.T, nr monitor.NamedRule) *monitor.Watch {
	t.Helper()
	r, err := rule.NewCount(rule.CountParams{Min: 3, Window: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	nr.Name, nr.Type, nr.Rule = "count", "count", r
	return &monitor.Watch{Name: "vlad", Center: vladivostok, RadiusMeters: 50000, Rules: []monitor.NamedRule{nr}}
}

func newEngine(t *testing.T, db *sqlite.DB, rec *recorder) *monitor.Engine {
	t.Helper()
	e, err := monitor.NewEngine(t.Context(), db, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	e.SetNotifiers([]monitor.Notifier{rec})
	t.Cleanup(func() { closeEngine(t, e) })
	return e
}

// closeEngine stops e's subscribers, giving them a (bubble) second to deliver.
func closeEngine(t *testing.T, e *monitor.Engine) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	e.Close(ctx) //nolint:errcheck // a failing subscriber may still be owed alerts
}

func evaluate(t *testing.T, e *monitor.Engine, w *monitor.Watch, at time.Time) {
	t.Helper()
	if err := e.Evaluate(t.Context(), w, at); err != nil {
		t.Fatalf("Evaluate at %v: %v", at, err)
	}
}

// wantStates checks what rec was told once every subscriber is idle or waiting
// to retry. Call it in a synctest bubble.
func wantStates(t *testing.T, rec *recorder, want ...string) {
	t.Helper()
	synctest.Wait()
	got := rec.states()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("announced %v, want %v", got, want)
	}
}

// TestPendingFiringResolved: an alert holds pending for For without being
// announced, then fires, then resolves when the activity leaves the window.
func TestPendingFiringResolved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db := openStore(t, filepath.Join(t.TempDir(), "g.gpkg"))
		rec := &recorder{}
		e := newEngine(t, db, rec)
		w := countWatch(t, monitor.NamedRule{For: 10 * time.Minute})
		reports(t, db, "a", vladivostok, 5, t0)

		evaluate(t, e, w, t0)
		wantStates(t, rec)
		if open := e.OpenAlerts(); len(open) != 1 || open[0].State != monitor.StatePending {
			t.Fatalf("open alerts = %+v, want one pending", open)
		}
		evaluate(t, e, w, t0.Add(5*time.Minute))
		wantStates(t, rec)
		evaluate(t, e, w, t0.Add(10*time.Minute))
		wantStates(t, rec, "pending>firing")
		evaluate(t, e, w, t0.Add(2*time.Hour)) // the reports left the 1 h window
		wantStates(t, rec, "pending>firing", "firing>resolved")
		if open := e.OpenAlerts(); len(open) != 0 {
			t.Errorf("open alerts after resolving = %+v", open)
		}
	})
}

// TestPendingThatEnds: activity that stops before For never announces anything.
func TestPendingThatEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db := openStore(t, filepath.Join(t.TempDir(), "g.gpkg"))
		rec := &recorder{}
		e := newEngine(t, db, rec)
		w := countWatch(t, monitor.NamedRule{For: 2 * time.Hour})
		reports(t, db, "a", vladivostok, 5, t0)
		evaluate(t, e, w, t0)
		evaluate(t, e, w, t0.Add(90*time.Minute))
		wantStates(t, rec)
		if open := e.OpenAlerts(); len(open) != 0 {
			t.Errorf("open alerts = %+v, want none", open)
		}
	})
}

// TestKeepFiringFor: a rule that stops holding briefly does not resolve the
// alert within keep_firing_for, and the alert keeps its id when it holds again.
func TestKeepFiringFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db := openStore(t, filepath.Join(t.TempDir(), "g.gpkg"))
		rec := &recorder{}
		e := newEngine(t, db, rec)
		w := countWatch(t, monitor.NamedRule{KeepFiringFor: 30 * time.Minute})
		reports(t, db, "a", vladivostok, 3, t0)
		evaluate(t, e, w, t0)
		id := e.OpenAlerts()[0].ID
		evaluate(t, e, w, t0.Add(50*time.Minute)) // still holding
		evaluate(t, e, w, t0.Add(58*time.Minute)) // the oldest report left: 2 < 3, not holding
		wantStates(t, rec, "none>firing")
		reports(t, db, "b", vladivostok, 3, t0.Add(70*time.Minute))
		evaluate(t, e, w, t0.Add(70*time.Minute)) // holds again within 30 min
		wantStates(t, rec, "none>firing")
		if open := e.OpenAlerts(); len(open) != 1 || open[0].ID != id {
			t.Errorf("open alerts = %+v, want alert %d still firing", open, id)
		}
		evaluate(t, e, w, t0.Add(4*time.Hour))
		wantStates(t, rec, "none>firing", "firing>resolved")
	})
}

// TestRepeat re-announces a firing alert every Repeat.
func TestRepeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db := openStore(t, filepath.Join(t.TempDir(), "g.gpkg"))
		rec := &recorder{}
		e := newEngine(t, db, rec)
		w := countWatch(t, monitor.NamedRule{Repeat: 20 * time.Minute})
		reports(t, db, "a", vladivostok, 10, t0.Add(time.Hour))
		for m := 0; m <= 45; m += 15 {
			evaluate(t, e, w, t0.Add(time.Hour+time.Duration(m)*time.Minute))
		}
		// Announced at 0, again at 30 (20 min passed at 30, not yet at 15), not at 45.
		wantStates(t, rec, "none>firing", "firing>firing")
	})
}

// TestClusterIdentity: two separate clusters open two alerts; one that persists
// keeps its alert while the other resolves.
func TestClusterIdentity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db := openStore(t, filepath.Join(t.TempDir(), "g.gpkg"))
		rec := &recorder{}
		e := newEngine(t, db, rec)
		r, err := rule.NewCluster(rule.ClusterParams{EpsMeters: 2000, MinPoints: 3, Window: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		w := &monitor.Watch{Name: "vlad", Center: vladivostok, RadiusMeters: 50000,
			Rules: []monitor.NamedRule{{Name: "cluster", Type: "cluster", Rule: r}}}
		east := orb.Point{vladivostok[0] + 0.2, vladivostok[1]} // about 16 km east
		reports(t, db, "centre", vladivostok, 4, t0)
		reports(t, db, "east", east, 4, t0.Add(-40*time.Minute))
		evaluate(t, e, w, t0)
		open := e.OpenAlerts()
		if len(open) != 2 {
			t.Fatalf("open alerts = %d, want 2 (one per cluster)", len(open))
		}
		reports(t, db, "centre2", vladivostok, 4, t0.Add(30*time.Minute))
		evaluate(t, e, w, t0.Add(30*time.Minute)) // the east cluster has left the window
		after := e.OpenAlerts()
		if len(after) != 1 {
			t.Fatalf("open alerts = %+v, want 1", after)
		}
		centre := open[0]
		if geoDist(open[1].Finding.Center, vladivostok) < geoDist(centre.Finding.Center, vladivostok) {
			centre = open[1]
		}
		if after[0].ID != centre.ID {
			t.Errorf("the persisting centre cluster has alert %d, want its first alert %d", after[0].ID, centre.ID)
		}
		wantStates(t, rec, "none>firing", "none>firing", "firing>resolved")
	})
}

func geoDist(a, b orb.Point) float64 { return (a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1]) }

// TestRestartKeepsState: a new engine on the same file resumes the firing alert
// without announcing it again, and still resolves it.
func TestRestartKeepsState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "g.gpkg")
		db := openStore(t, path)
		rec := &recorder{}
		e := newEngine(t, db, rec)
		w := countWatch(t, monitor.NamedRule{})
		reports(t, db, "a", vladivostok, 5, t0)
		evaluate(t, e, w, t0)
		closeEngine(t, e) // a stop lets the subscribers take what is queued, as the daemon's does
		db.Close()

		db2 := openStore(t, path)
		rec2 := &recorder{}
		e2 := newEngine(t, db2, rec2)
		evaluate(t, e2, w, t0.Add(time.Minute))
		wantStates(t, rec2)
		evaluate(t, e2, w, t0.Add(3*time.Hour))
		wantStates(t, rec2, "firing>resolved")
	})
}

// TestRedeliveryAfterFailure: a subscriber that fails gets the transition again
// after its backoff, once; a stop before delivery is made good after restart.
func TestRedeliveryAfterFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "g.gpkg")
		db := openStore(t, path)
		rec := &recorder{fail: true}
		e := newEngine(t, db, rec)
		w := countWatch(t, monitor.NamedRule{})
		reports(t, db, "a", vladivostok, 5, t0)
		evaluate(t, e, w, t0)
		wantStates(t, rec)
		rec.setFail(false)
		time.Sleep(deliveryRetry) // the bubble's clock: the courier's backoff
		wantStates(t, rec, "none>firing")
		evaluate(t, e, w, t0.Add(2*time.Minute))
		wantStates(t, rec, "none>firing") // once, not again

		// A transition persisted but never delivered (the process died) is delivered
		// by the next process.
		rec.setFail(true)
		evaluate(t, e, w, t0.Add(3*time.Hour))
		closeEngine(t, e)
		db.Close()
		db2 := openStore(t, path)
		rec2 := &recorder{}
		newEngine(t, db2, rec2)
		wantStates(t, rec2, "firing>resolved")
	})
}

// TestRestartWhilePending: a pending alert survives a restart with its labels
// and fires once it has held for For, counted from before the restart.
func TestRestartWhilePending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "g.gpkg")
		db := openStore(t, path)
		w := countWatch(t, monitor.NamedRule{For: 30 * time.Minute, Labels: map[string]string{"team": "east"}})
		reports(t, db, "a", vladivostok, 10, t0)
		e0 := newEngine(t, db, &recorder{})
		evaluate(t, e0, w, t0)
		closeEngine(t, e0)
		db.Close()

		db2 := openStore(t, path)
		rec := &recorder{}
		e := newEngine(t, db2, rec)
		open := e.OpenAlerts()
		if len(open) != 1 || open[0].State != monitor.StatePending || !open[0].ActiveAt.Equal(t0) || open[0].Labels["team"] != "east" {
			t.Fatalf("after restart: %+v, want one pending alert active since %v labelled team=east", open, t0)
		}
		evaluate(t, e, w, t0.Add(20*time.Minute))
		wantStates(t, rec)
		evaluate(t, e, w, t0.Add(30*time.Minute))
		wantStates(t, rec, "pending>firing")
	})
}

// TestEvaluateConcurrently: evaluations of one watch at the same instant, as a
// reload's immediate evaluation and the schedule's can be, are serialised: one
// alert, one transition, one announcement.
func TestEvaluateConcurrently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db := openStore(t, filepath.Join(t.TempDir(), "g.gpkg"))
		rec := &recorder{}
		e := newEngine(t, db, rec)
		w := countWatch(t, monitor.NamedRule{})
		reports(t, db, "a", vladivostok, 5, t0)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				if err := e.Evaluate(t.Context(), w, t0); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		wantStates(t, rec, "none>firing")
		if open := e.OpenAlerts(); len(open) != 1 {
			t.Errorf("open alerts = %+v, want 1", open)
		}
		ts, err := db.Transitions(t.Context(), store.TransitionFilter{})
		if err != nil || len(ts) != 1 {
			t.Errorf("transitions = %+v (%v), want 1", ts, err)
		}
	})
}
