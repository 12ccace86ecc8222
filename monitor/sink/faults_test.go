package sink_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/rule"
	"github.com/geowatch/geowatch/monitor/sink"
	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/sqlite"
	"github.com/paulmach/orb"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestAlertsFileFault breaks the alerts file's directory under a running
// engine: evaluation goes on and persists the transition, the failure is logged
// as "alert notification failed", the log subscriber gets the transition once,
// and the file gets it on the first evaluation after the path works again. Only
// then is the transition marked notified.
func TestAlertsFileFault(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(t *testing.T, dir string)
	}{
		{"directory removed", func(t *testing.T, dir string) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}},
		{"directory replaced by a file", func(t *testing.T, dir string) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dir, []byte("not a directory\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := t.Context()
				db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "geowatch.gpkg"))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				engCore, engLogs := observer.New(zap.DebugLevel)
				subCore, subLogs := observer.New(zap.DebugLevel)
				e, err := monitor.NewEngine(ctx, db, zap.New(engCore))
				if err != nil {
					t.Fatal(err)
				}
				dir := filepath.Join(t.TempDir(), "alerts")
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(dir, "alerts.jsonl")
				file, err := sink.OpenFile(path)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { file.Close() })
				e.SetNotifiers([]monitor.Notifier{sink.NewLog(zap.New(subCore)), file})
				t.Cleanup(func() {
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					defer cancel()
					e.Close(ctx) //nolint:errcheck // checked below
				})

				count, err := rule.NewCount(rule.CountParams{Min: 1, Window: time.Hour})
				if err != nil {
					t.Fatal(err)
				}
				w := &monitor.Watch{Name: "vladivostok", Center: orb.Point{131.9, 43.1}, RadiusMeters: 10e3,
					Rules: []monitor.NamedRule{{Name: "any", Type: "count", Severity: monitor.SeverityWarning, Rule: count}}}
				now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
				if _, err := e.Ingest(ctx, "feed", monitor.Batch{Observations: []monitor.Observation{
					{ID: "a", Time: now.Add(-10 * time.Minute), Point: orb.Point{131.9, 43.1}, Kind: "report"},
				}}, now); err != nil {
					t.Fatal(err)
				}

				tc.break_(t, dir)
				// The alert fires while the file cannot take it; evaluation still succeeds
				// for the rule (the failure is the subscriber's, logged and retried, not
				// returned).
				for i := range 3 {
					if err := e.Evaluate(ctx, w, now.Add(time.Duration(i)*time.Minute)); err != nil {
						t.Fatalf("Evaluate %d: %v", i, err)
					}
				}
				if got := len(e.OpenAlerts()); got != 1 {
					t.Fatalf("%d open alerts, want 1", got)
				}
				time.Sleep(10 * time.Second) // the bubble's clock: a few retries
				synctest.Wait()
				failed := engLogs.FilterMessage("alert notification failed; retrying").FilterField(zap.String("subscriber", file.Name())).All()
				if len(failed) < 2 {
					t.Errorf("%d notification failures logged in 10 s, want the first and its retries", len(failed))
				}
				for _, l := range failed {
					if msg, _ := l.ContextMap()["error"].(string); !bytes.Contains([]byte(msg), []byte(dir)) {
						t.Errorf("failure %q does not name the alerts path", msg)
					}
				}
				if un := unnotified(t, db); un != 1 {
					t.Fatalf("%d unnotified transitions while the file is broken, want 1", un)
				}

				// Mend the path: the next retry delivers to the file, and only to it.
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := e.Flush(ctx); err != nil {
					t.Fatal(err)
				}
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if n := bytes.Count(data, []byte("\n")); n != 1 || !bytes.Contains(data, []byte(`"alert firing"`)) {
					t.Errorf("alerts file holds %d lines, want the firing transition once:\n%s", n, data)
				}
				if n := subLogs.FilterMessage("alert firing").Len(); n != 1 {
					t.Errorf("log subscriber got the transition %d times, want 1", n)
				}
				if un := unnotified(t, db); un != 0 {
					t.Errorf("%d transitions still unnotified after delivery", un)
				}
			})
		})
	}
}

// unnotified counts the transitions not yet marked notified.
func unnotified(t *testing.T, db *sqlite.DB) int {
	t.Helper()
	ts, err := db.Transitions(t.Context(), store.TransitionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, tr := range ts {
		if tr.NotifiedAt.IsZero() {
			n++
		}
	}
	return n
}
