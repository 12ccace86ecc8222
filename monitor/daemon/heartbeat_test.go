package daemon_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/daemon"
	"github.com/geowatch/geowatch/store/sqlite"
	"go.uber.org/zap"
)

// pullFunc is a source that pulls by calling itself.
type pullFunc func(ctx context.Context, now time.Time, emit monitor.EmitFunc) error

func (f pullFunc) Pull(ctx context.Context, now time.Time, emit monitor.EmitFunc) error {
	return f(ctx, now, emit)
}

// TestHeartbeatAndStatus runs a daemon with one healthy and one failing check:
// Status counts them and names the last run, the heartbeat runs on the
// scheduler while it runs, under a live context, and never after Run returns.
// It runs in a synctest bubble: the heartbeat's period and the wait after the
// stop are the bubble's clock, not the machine's.
func TestHeartbeatAndStatus(t *testing.T) {
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
		now := time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC)
		var beats atomic.Int32
		beat := make(chan struct{}, 16)
		d := daemon.New(engine, zap.NewNop(), daemon.Options{
			Now:            func() time.Time { return now },
			HeartbeatEvery: time.Second,
			Heartbeat: func(ctx context.Context) {
				if ctx.Err() != nil {
					t.Error("heartbeat called with a done context")
				}
				beats.Add(1)
				beat <- struct{}{}
			},
		})
		ok := pullFunc(func(context.Context, time.Time, monitor.EmitFunc) error { return nil })
		bad := pullFunc(func(context.Context, time.Time, monitor.EmitFunc) error { return errors.New("feed down") })
		checks := []daemon.Check{
			{Name: "ok", Type: "test", Schedule: "@every 1h", Timeout: time.Minute, Source: ok},
			{Name: "bad", Type: "test", Schedule: "@every 1h", Timeout: time.Minute, Source: bad},
		}
		if _, err := d.Apply(checks, nil); err != nil {
			t.Fatal(err)
		}
		if got, want := d.Status(), (daemon.Status{Checks: 2}); got != want {
			t.Errorf("Status() before Run = %+v, want %+v", got, want)
		}

		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		var atReady daemon.Status
		go func() { done <- d.Run(runCtx, func() { atReady = d.Status() }) }()
		for range 2 {
			select {
			case <-beat:
			case <-time.After(10 * time.Second): // the bubble's: a wedged scheduler
				t.Fatal("no heartbeat within 10 s")
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		after := beats.Load()

		if atReady.Checks != 2 || atReady.Failing != 1 || !atReady.Last.At.Equal(now) {
			t.Errorf("Status() at ready = %+v, want 2 checks, 1 failing, last at %v", atReady, now)
		}
		if l := atReady.Last; (l.Source == "bad") != (l.Err != nil) {
			t.Errorf("last check %s has error %v, want one exactly for bad", l.Source, l.Err)
		}
		time.Sleep(1500 * time.Millisecond) // the bubble's clock: 1.5 heartbeat periods
		if got := beats.Load(); got != after {
			t.Errorf("%d heartbeats after Run returned", got-after)
		}
	})
}
