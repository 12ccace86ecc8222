package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
)

func (c *contract) silenceTests() []subtest {
	return []subtest{
		{"Add", testAddSilence},
		{"AddStartsNow", testAddSilenceStartsNow},
		{"Invalid", testAddSilenceInvalid},
		{"NotEnded", testSilencesNotEnded},
		{"ListNotEnded", testListSilencesNotEnded},
		{"Expire", c.testExpireSilence},
	}
}

func testAddSilence(t *testing.T, db store.Backend) {
	ctx := t.Context()
	s := monitor.Silence{Watch: "vladivostok", StartsAt: t0, EndsAt: t0.Add(2 * time.Hour), CreatedBy: "ana", Comment: "drill"}
	if err := db.AddSilence(ctx, &s); err != nil {
		t.Fatal(err)
	}
	if s.ID == 0 || !s.StartsAt.Equal(t0) {
		t.Errorf("after AddSilence: id %d, starts %v; want an id and starts %v", s.ID, s.StartsAt, t0)
	}
	s2 := monitor.Silence{Rule: "fires", StartsAt: t0.Add(time.Hour), EndsAt: t0.Add(3 * time.Hour)}
	if err := db.AddSilence(ctx, &s2); err != nil {
		t.Fatal(err)
	}
	if s2.ID <= s.ID {
		t.Errorf("second id %d, want > %d", s2.ID, s.ID)
	}
	got, err := db.ListSilences(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("ListSilences(all) = %d rows, want 2", len(got))
	}
	g := got[0]
	g.StartsAt, g.EndsAt = ms(g.StartsAt), ms(g.EndsAt)
	if g.Silence != s || g.CreatedAt.IsZero() || !g.ExpiredAt.IsZero() {
		t.Errorf("row 0 = %+v, want %+v, a creation time and no expiry", got[0], s)
	}
	if r := got[1]; r.ID != s2.ID || r.Watch != "" || r.Rule != "fires" || r.CreatedBy != "" || r.Comment != "" {
		t.Errorf("row 1 = %+v, want %+v", r, s2)
	}
	// Sub-millisecond times are kept to the millisecond.
	s3 := monitor.Silence{Watch: "x", StartsAt: t0.Add(1500 * time.Microsecond), EndsAt: t0.Add(time.Hour + 1500*time.Microsecond)}
	if err := db.AddSilence(ctx, &s3); err != nil {
		t.Fatal(err)
	}
	got, _ = db.ListSilences(ctx, true)
	if r := got[2]; !sameTime(r.StartsAt, s3.StartsAt) || !sameTime(r.EndsAt, s3.EndsAt) {
		t.Errorf("row 2 = %v–%v, want %v–%v", r.StartsAt, r.EndsAt, ms(s3.StartsAt), ms(s3.EndsAt))
	}
}

// testAddSilenceStartsNow: a zero start is the store's clock.
func testAddSilenceStartsNow(t *testing.T, db store.Backend) {
	s := monitor.Silence{Watch: "w", EndsAt: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := db.AddSilence(t.Context(), &s); err != nil {
		t.Fatal(err)
	}
	if s.ID == 0 || s.StartsAt.IsZero() {
		t.Errorf("after AddSilence without a start: %+v, want an id and a start", s)
	}
	got, err := db.ListSilences(t.Context(), true)
	if err != nil || len(got) != 1 || !sameTime(got[0].StartsAt, s.StartsAt) {
		t.Errorf("ListSilences = %+v, %v; want one starting %v", got, err, s.StartsAt)
	}
}

func testAddSilenceInvalid(t *testing.T, db store.Backend) {
	for _, tc := range []struct {
		name string
		s    monitor.Silence
	}{
		{"no end", monitor.Silence{Watch: "w"}},
		{"no end with a start", monitor.Silence{Watch: "w", StartsAt: t0}},
		{"ends at start", monitor.Silence{Watch: "w", StartsAt: t0, EndsAt: t0}},
		{"ends before start", monitor.Silence{Watch: "w", StartsAt: t0, EndsAt: t0.Add(-time.Minute)}},
		{"ends before now", monitor.Silence{Watch: "w", EndsAt: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := db.AddSilence(t.Context(), &tc.s); !errors.Is(err, store.ErrSilenceEnds) {
				t.Errorf("AddSilence(%+v) = %v, want ErrSilenceEnds", tc.s, err)
			}
			if tc.s.ID != 0 {
				t.Errorf("id set to %d on failure", tc.s.ID)
			}
		})
	}
	if got, err := db.ListSilences(t.Context(), true); err != nil || len(got) != 0 {
		t.Errorf("ListSilences = %v, %v; want none stored", got, err)
	}
}

func addSilence(t *testing.T, db store.Backend, s monitor.Silence) int64 {
	t.Helper()
	if err := db.AddSilence(t.Context(), &s); err != nil {
		t.Fatal(err)
	}
	return s.ID
}

// testSilencesNotEnded: Silences(now) returns those not ended at now, active
// or yet to start, by id.
func testSilencesNotEnded(t *testing.T, db store.Backend) {
	active := addSilence(t, db, monitor.Silence{Watch: "a", StartsAt: t0, EndsAt: t0.Add(time.Hour)})
	pending := addSilence(t, db, monitor.Silence{Watch: "b", StartsAt: t0.Add(2 * time.Hour), EndsAt: t0.Add(3 * time.Hour)})
	short := addSilence(t, db, monitor.Silence{Watch: "c", StartsAt: t0, EndsAt: t0.Add(time.Minute)})
	for _, tc := range []struct {
		name string
		now  time.Time
		want []int64
	}{
		{"before all", t0.Add(-time.Hour), []int64{active, pending, short}},
		{"at creation", t0, []int64{active, pending, short}},
		{"a ms before the short one's end", t0.Add(time.Minute - time.Millisecond), []int64{active, pending, short}},
		{"at the short one's end", t0.Add(time.Minute), []int64{active, pending}},
		{"after the first hour", t0.Add(time.Hour + time.Second), []int64{pending}},
		{"after all", t0.Add(3 * time.Hour), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.Silences(t.Context(), tc.now)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, s := range got {
				ids = append(ids, s.ID)
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("Silences(%v) ids = %v, want %v", tc.now, ids, tc.want)
			}
		})
	}
}

// testListSilencesNotEnded: without all, ListSilences reads the store's
// clock; the silences here ended long ago or end long after any clock.
func testListSilencesNotEnded(t *testing.T, db store.Backend) {
	past, future := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	addSilence(t, db, monitor.Silence{Watch: "old", StartsAt: past, EndsAt: past.Add(time.Hour)})
	keep := addSilence(t, db, monitor.Silence{Watch: "long", StartsAt: past, EndsAt: future})
	later := addSilence(t, db, monitor.Silence{Watch: "later", StartsAt: future, EndsAt: future.Add(time.Hour)})
	got, err := db.ListSilences(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != keep || got[1].ID != later {
		t.Errorf("ListSilences(not all) = %+v, want %d and %d", got, keep, later)
	}
	if all, err := db.ListSilences(t.Context(), true); err != nil || len(all) != 3 {
		t.Errorf("ListSilences(all) = %d, %v; want 3", len(all), err)
	}
}

// testExpireSilence: an expired silence ends at the expiry, one yet to start
// never mutes, one already ended stays as it was; twice keeps the first; an
// unknown id is ErrNotFound; all of it across a restart.
func (c *contract) testExpireSilence(t *testing.T, db store.Backend) {
	ctx := t.Context()
	active := monitor.Silence{Watch: "a", StartsAt: t0, EndsAt: t0.Add(2 * time.Hour)}
	pending := monitor.Silence{Rule: "r", StartsAt: t0.Add(time.Hour), EndsAt: t0.Add(2 * time.Hour)}
	ended := monitor.Silence{Watch: "c", StartsAt: t0, EndsAt: t0.Add(time.Minute)}
	for _, s := range []*monitor.Silence{&active, &pending, &ended} {
		if err := db.AddSilence(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	at := t0.Add(30 * time.Minute)
	for _, id := range []int64{active.ID, pending.ID, ended.ID} {
		if err := db.ExpireSilence(ctx, id, at); err != nil {
			t.Fatalf("ExpireSilence(%d) = %v", id, err)
		}
	}
	if err := db.ExpireSilence(ctx, active.ID, at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := db.ExpireSilence(ctx, ended.ID+999, at); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ExpireSilence(unknown) = %v, want ErrNotFound", err)
	}
	check := func(t *testing.T, db store.Backend) {
		if got, err := db.Silences(ctx, at); err != nil || len(got) != 0 {
			t.Errorf("Silences after expiry = %v, %v; want none", got, err)
		}
		// Before the expiry, the two it ended at it are still to end.
		if got, err := db.Silences(ctx, t0.Add(time.Minute)); err != nil || len(got) != 2 || got[0].ID != active.ID || got[1].ID != pending.ID {
			t.Errorf("Silences(t0+1m) = %v, %v; want %d and %d", got, err, active.ID, pending.ID)
		}
		rows, err := db.ListSilences(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		want := []struct{ starts, ends, expired time.Time }{
			{t0, at, at},
			{at, at, at},                           // never started, so it never mutes
			{t0, t0.Add(time.Minute), time.Time{}}, // had ended on its own: unchanged
		}
		if len(rows) != len(want) {
			t.Fatalf("ListSilences(all) = %d rows, want %d", len(rows), len(want))
		}
		for i, w := range want {
			r := rows[i]
			if !sameTime(r.StartsAt, w.starts) || !sameTime(r.EndsAt, w.ends) || !sameTime(r.ExpiredAt, w.expired) {
				t.Errorf("silence %d: starts %v ends %v expired %v; want %v %v %v",
					r.ID, r.StartsAt, r.EndsAt, r.ExpiredAt, w.starts, w.ends, w.expired)
			}
			if r.Matches(monitor.Alert{Watch: r.Watch, Rule: r.Rule}, at) {
				t.Errorf("silence %d still matches at %v", r.ID, at)
			}
		}
	}
	check(t, db)
	db = c.reopen(t, db)
	t.Run("after restart", func(t *testing.T) { check(t, db) })
}

func (c *contract) sourceTests() []subtest {
	return []subtest{
		{"RecordCheck", testRecordCheck},
		{"Runs", c.testRuns},
	}
}

// normSource returns s with its times at stored precision.
func normSource(s store.SourceStatus) store.SourceStatus {
	s.LastRun, s.LastSuccess = ms(s.LastRun), ms(s.LastSuccess)
	return s
}

func wantSource(t *testing.T, got, want store.SourceStatus) {
	t.Helper()
	if g, w := fmt.Sprintf("%+v", normSource(got)), fmt.Sprintf("%+v", normSource(want)); g != w {
		t.Errorf("source:\n got %s\nwant %s", g, w)
	}
}

// testRecordCheck: last-run columns replaced, totals summed, the failure
// streak counted and reset.
func testRecordCheck(t *testing.T, db store.Backend) {
	ctx := t.Context()
	runs := []monitor.CheckRun{
		{Source: "usgs", Type: "geojson", Started: t0, Duration: 1500 * time.Millisecond,
			Result: monitor.IngestResult{Seen: 10, Added: 8, Unchanged: 1, Rejected: 1}},
		{Source: "usgs", Type: "geojson", Started: t0.Add(time.Minute), Duration: time.Second, Err: errors.New("HTTP 503")},
		{Source: "usgs", Type: "geojson", Started: t0.Add(2 * time.Minute), Duration: 250 * time.Millisecond, Err: errors.New("timeout"),
			Result: monitor.IngestResult{Seen: 2, Updated: 2}},
		{Source: "emsc", Type: "rss", Started: t0.Add(3 * time.Minute), Duration: time.Minute, Err: errors.New("never worked")},
	}
	for _, r := range runs {
		if err := db.RecordCheck(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	ss, err := db.Sources(ctx)
	if err != nil || len(ss) != 2 {
		t.Fatalf("Sources = %+v, %v", ss, err)
	}
	wantSource(t, ss[0], store.SourceStatus{Name: "emsc", Type: "rss", LastRun: t0.Add(3 * time.Minute),
		LastError: "never worked", ConsecutiveFailures: 1, LastDuration: time.Minute})
	wantSource(t, ss[1], store.SourceStatus{Name: "usgs", Type: "geojson", LastRun: t0.Add(2 * time.Minute), LastSuccess: t0,
		LastError: "timeout", ConsecutiveFailures: 2, LastDuration: 250 * time.Millisecond,
		Last:  monitor.IngestResult{Seen: 2, Updated: 2},
		Total: monitor.IngestResult{Seen: 12, Added: 8, Updated: 2, Unchanged: 1, Rejected: 1}})
	again := runs[0]
	again.Started = t0.Add(4 * time.Minute)
	if err := db.RecordCheck(ctx, again); err != nil {
		t.Fatal(err)
	}
	ss, _ = db.Sources(ctx)
	wantSource(t, ss[1], store.SourceStatus{Name: "usgs", Type: "geojson", LastRun: again.Started, LastSuccess: again.Started,
		LastDuration: 1500 * time.Millisecond, Last: again.Result,
		Total: monitor.IngestResult{Seen: 22, Added: 16, Updated: 2, Unchanged: 2, Rejected: 2}})
}

// testRuns: StartRun, AddRunProgress and FinishRun, and a run killed before
// it finished, seen after a restart.
func (c *contract) testRuns(t *testing.T, db store.Backend) {
	ctx := t.Context()
	started := t0.Add(time.Hour)
	if err := db.StartRun(ctx, "import", "ingest", started); err != nil {
		t.Fatal(err)
	}
	ss, err := db.Sources(ctx)
	if err != nil || len(ss) != 1 {
		t.Fatalf("Sources = %+v, %v", ss, err)
	}
	wantSource(t, ss[0], store.SourceStatus{Name: "import", Type: "ingest", LastRun: started, LastError: store.Running})
	r1 := monitor.IngestResult{Seen: 100, Added: 90, Rejected: 10}
	r2 := monitor.IngestResult{Seen: 50, Added: 20, Updated: 5, Unchanged: 25}
	sum := r1
	sum.Add(r2)
	if err := db.AddRunProgress(ctx, "import", r1, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := db.AddRunProgress(ctx, "import", r2, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	ss, _ = db.Sources(ctx)
	wantSource(t, ss[0], store.SourceStatus{Name: "import", Type: "ingest", LastRun: started, LastError: store.Running,
		LastDuration: 5 * time.Second, Last: sum, Total: sum})
	if err := db.FinishRun(ctx, "import", started, 6*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	ss, _ = db.Sources(ctx)
	wantSource(t, ss[0], store.SourceStatus{Name: "import", Type: "ingest", LastRun: started, LastSuccess: started,
		LastDuration: 6 * time.Second, Last: sum, Total: sum})

	// A second run, killed after one batch.
	started2 := t0.Add(2 * time.Hour)
	if err := db.StartRun(ctx, "import", "ingest", started2); err != nil {
		t.Fatal(err)
	}
	if err := db.AddRunProgress(ctx, "import", r1, time.Second); err != nil {
		t.Fatal(err)
	}
	total := sum
	total.Add(r1)
	killed := store.SourceStatus{Name: "import", Type: "ingest", LastRun: started2, LastSuccess: started,
		LastError: store.Running, LastDuration: time.Second, Last: r1, Total: total}
	db = c.reopen(t, db)
	ss, err = db.Sources(ctx)
	if err != nil || len(ss) != 1 {
		t.Fatalf("Sources after a restart = %+v, %v", ss, err)
	}
	wantSource(t, ss[0], killed)

	// Runs that fail count a streak.
	for i, at := range []time.Time{t0.Add(3 * time.Hour), t0.Add(4 * time.Hour)} {
		if err := db.StartRun(ctx, "import", "ingest", at); err != nil {
			t.Fatal(err)
		}
		if err := db.FinishRun(ctx, "import", at, time.Minute, fmt.Errorf("boom %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	ss, _ = db.Sources(ctx)
	wantSource(t, ss[0], store.SourceStatus{Name: "import", Type: "ingest", LastRun: t0.Add(4 * time.Hour), LastSuccess: started,
		LastError: "boom 1", ConsecutiveFailures: 2, LastDuration: time.Minute, Total: total})
	// A scheduled check of the same source adds to the same totals.
	run := monitor.CheckRun{Source: "import", Type: "ingest", Started: t0.Add(5 * time.Hour), Duration: time.Second, Result: r2}
	if err := db.RecordCheck(ctx, run); err != nil {
		t.Fatal(err)
	}
	total.Add(r2)
	ss, _ = db.Sources(ctx)
	wantSource(t, ss[0], store.SourceStatus{Name: "import", Type: "ingest", LastRun: run.Started, LastSuccess: run.Started,
		LastDuration: time.Second, Last: r2, Total: total})
}

func (c *contract) retentionTests() []subtest {
	return []subtest{
		{"Prune", testPrune},
		{"ForeignWrites", c.testForeignWrites},
	}
}

// testForeignWrites: a handle counts the writes of observations another
// handle on its database commits (ingests that change rows, prunes that
// delete some), and never its own.
func (c *contract) testForeignWrites(t *testing.T, db store.Backend) {
	ctx := t.Context()
	other := c.another(t, db)
	foreign := func(want int64) {
		t.Helper()
		if n, err := db.ForeignWrites(ctx); err != nil || n != want {
			t.Fatalf("ForeignWrites = %d (%v), want %d", n, err, want)
		}
	}
	a := obs("a", 131.9, 43.1, t0.Add(-2*time.Hour))
	ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{a}})
	if _, err := db.Prune(ctx, t0.Add(-time.Hour), 0); err != nil {
		t.Fatal(err)
	}
	foreign(0)
	b := obs("b", 131.9, 43.1, t0)
	ingest(t, other, "s", monitor.Batch{Observations: []monitor.Observation{b}})
	foreign(1)
	foreign(1)
	ingest(t, other, "s", monitor.Batch{Observations: []monitor.Observation{b}}) // unchanged: nothing written
	if _, err := other.Prune(ctx, t0.Add(-time.Hour), 0); err != nil {           // nothing to delete
		t.Fatal(err)
	}
	foreign(1)
	ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{a}})
	if _, err := other.Prune(ctx, t0.Add(-time.Hour), 0); err != nil {
		t.Fatal(err)
	}
	foreign(2)
	if n, err := other.ForeignWrites(ctx); err != nil || n != 3 {
		t.Fatalf("the other handle's ForeignWrites = %d (%v), want 3: the first handle ingested, pruned and ingested", n, err)
	}
}

// testPrune ports store/sqlite's TestPrune: what ended before the cut goes,
// in batches, except a resolved alert not yet notified.
func testPrune(t *testing.T, db store.Backend) {
	ctx := t.Context()
	var batch []monitor.Observation
	for i := range 1000 { // one every 3 minutes from t0 - 25h: 500 before the cut
		at := t0.Add(-25 * time.Hour).Add(time.Duration(i) * 3 * time.Minute)
		batch = append(batch, obs(fmt.Sprintf("o%04d", i), float64(i%360)-180, float64(i%170)-85, at))
	}
	ingest(t, db, "s", monitor.Batch{Observations: batch})
	cut := batch[500].Time
	for i, at := range []time.Time{cut.Add(-time.Hour), cut.Add(-time.Millisecond), cut, cut.Add(time.Hour)} {
		if _, err := db.Ingest(ctx, "s", monitor.Batch{Rejects: []monitor.Reject{{Record: fmt.Sprint(i)}}}, at); err != nil {
			t.Fatal(err)
		}
	}
	// Alerts: resolved and notified before the cut (pruned, with their two
	// transitions each), resolved after (kept), resolved before the cut but
	// not notified (kept), firing (kept).
	save := func(watch string, ends time.Time) {
		a := testAlert()
		a.Watch = watch
		start := monitor.Transition{At: t0.Add(-30 * time.Hour), To: monitor.StateFiring}
		saveChange(t, db, &a, &start)
		if !ends.IsZero() {
			a.State, a.EndsAt, a.UpdatedAt = monitor.StateResolved, ends, ends
			saveChange(t, db, &a, &monitor.Transition{At: ends, From: monitor.StateFiring, To: monitor.StateResolved})
		}
	}
	save("old", cut.Add(-time.Hour))
	save("old2", cut.Add(-time.Minute))
	save("later", cut.Add(time.Hour))
	_, last, err := db.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.MarkNotified(ctx, last, cut); err != nil {
		t.Fatal(err)
	}
	save("unsent", cut.Add(-time.Hour))
	save("firing", time.Time{})
	fids := make([]int64, 0, 1000)
	for _, o := range queryAll(t, db, store.QueryFilter{}) {
		fids = append(fids, o.FID)
	}

	res, err := db.Prune(ctx, cut, 64) // 64: several batches per table
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.PruneResult{Observations: 500, Rejects: 2, Alerts: 2, Transitions: 4}); res != want {
		t.Errorf("Prune = %+v, want %+v", res, want)
	}
	if n, _ := db.CountObservations(ctx); n != 500 {
		t.Errorf("observations left = %d, want 500", n)
	}
	left := queryAll(t, db, store.QueryFilter{})
	if len(left) == 0 || left[0].Time.Before(cut) || !left[0].Time.Equal(cut) {
		t.Errorf("oldest observation left = %+v, want one at the cut %v", left[:min(1, len(left))], cut)
	}
	if got, err := db.ObservationsByFID(ctx, fids); err != nil || len(got) != 500 {
		t.Errorf("ObservationsByFID of every fid = %d, %v; want the 500 left", len(got), err)
	}
	as, err := db.Alerts(ctx, store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var watches []string
	for _, a := range as {
		watches = append(watches, a.Watch)
	}
	if want := []string{"firing", "unsent", "later"}; !slices.Equal(watches, want) {
		t.Errorf("alerts left = %v, want %v", watches, want)
	}
	var ids []int64
	for _, a := range as {
		ids = append(ids, a.ID)
	}
	if trs, err := db.Transitions(ctx, store.TransitionFilter{}); err != nil || len(trs) != 5 {
		t.Errorf("transitions left = %d, %v; want 5", len(trs), err)
	}
	if trs, _ := db.Transitions(ctx, store.TransitionFilter{AlertIDs: ids}); len(trs) != 5 {
		t.Errorf("transitions of the alerts left = %d, want 5", len(trs))
	}
	if res, err := db.Prune(ctx, cut, 0); err != nil || res != (store.PruneResult{}) {
		t.Errorf("second Prune = %+v, %v; want nothing to do", res, err)
	}
	// Once notified, the unsent alert goes too.
	_, last, _ = db.Latest(ctx)
	if err := db.MarkNotified(ctx, last, cut); err != nil {
		t.Fatal(err)
	}
	if res, err := db.Prune(ctx, cut, 0); err != nil || res != (store.PruneResult{Alerts: 1, Transitions: 2}) {
		t.Errorf("Prune after notifying = %+v, %v; want the unsent alert and its 2 transitions", res, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := db.Prune(cctx, cut.Add(time.Hour), 10); !errors.Is(err, context.Canceled) {
		t.Errorf("Prune with a cancelled context = %v, want context.Canceled", err)
	}
}
