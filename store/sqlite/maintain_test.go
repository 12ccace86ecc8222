package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/geowatch/geowatch/store"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
)

func TestPrune(t *testing.T) {
	db := openTestDB(t, "")
	var batch []monitor.Observation
	for i := range 1000 { // one every 3 minutes from t0 - 25h: 500 before the cut
		at := t0.Add(-25 * time.Hour).Add(time.Duration(i) * 3 * time.Minute)
		batch = append(batch, obs(fmt.Sprintf("o%04d", i), float64(i%360)-180, float64(i%170)-85, at))
	}
	ingest(t, db, "s", monitor.Batch{Observations: batch})
	cut := batch[500].Time
	for i, at := range []time.Time{cut.Add(-time.Hour), cut.Add(-time.Millisecond), cut, cut.Add(time.Hour)} {
		if _, err := db.Ingest(t.Context(), "s", monitor.Batch{Rejects: []monitor.Reject{{Record: fmt.Sprint(i)}}}, at); err != nil {
			t.Fatal(err)
		}
	}
	// Alerts: resolved and notified before the cut (pruned), resolved before the
	// cut but not notified (kept), resolved after (kept), firing (kept).
	save := func(watch string, ends time.Time, notify bool) {
		a := testAlert()
		a.Watch = watch
		start := monitor.Transition{At: t0.Add(-30 * time.Hour), To: monitor.StateFiring}
		if err := db.SaveTransition(t.Context(), &a, &start); err != nil {
			t.Fatal(err)
		}
		ids := []int64{start.ID}
		if !ends.IsZero() {
			a.State, a.EndsAt = monitor.StateResolved, ends
			end := monitor.Transition{At: ends, From: monitor.StateFiring, To: monitor.StateResolved}
			if err := db.SaveTransition(t.Context(), &a, &end); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, end.ID)
		}
		for _, id := range ids {
			if notify {
				if err := db.markOne(t.Context(), id, ends); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	save("old", cut.Add(-time.Hour), true)
	save("old2", cut.Add(-time.Minute), true)
	save("unsent", cut.Add(-time.Hour), false)
	save("later", cut.Add(time.Hour), true)
	save("firing", time.Time{}, false)

	res, err := db.Prune(t.Context(), cut, 64) // 64: several batches per table
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.PruneResult{Observations: 500, Rejects: 2, Alerts: 2, Transitions: 4}); res != want {
		t.Errorf("Prune = %+v, want %+v", res, want)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM observations WHERE observed_at < ?`, formatTime(cut)); n != 0 {
		t.Errorf("%d observations before the cut remain", n)
	}
	if n, _ := db.CountObservations(t.Context()); n != 500 {
		t.Errorf("observations left = %d, want 500", n)
	}
	checkRtree(t, db)
	if got := queryString(t, db, `SELECT group_concat(watch) FROM (SELECT watch FROM alerts ORDER BY id)`); got != "unsent,later,firing" {
		t.Errorf("alerts left = %s, want unsent,later,firing", got)
	}
	if got := queryString(t, db, `SELECT rtreecheck('rtree_alerts_geom')`); got != "ok" {
		t.Errorf("rtreecheck(alerts) = %s", got)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM rtree_alerts_geom`); n != 3 {
		t.Errorf("alert rtree rows = %d, want 3", n)
	}
	if res, err := db.Prune(t.Context(), cut, 0); err != nil || res != (store.PruneResult{}) {
		t.Errorf("second Prune = %+v, %v, want nothing to do", res, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := db.Prune(ctx, cut.Add(time.Hour), 10); !errors.Is(err, context.Canceled) {
		t.Errorf("Prune with a cancelled context = %v", err)
	}
}

func TestBackup(t *testing.T) {
	dir := t.TempDir()
	db := openTestDB(t, filepath.Join(dir, "geowatch.gpkg"))
	ingest(t, db, "s", monitor.Batch{Observations: gridBatch("seed", 2000)})
	a, tr := testAlert(), monitor.Transition{At: t0, To: monitor.StateFiring}
	if err := db.SaveTransition(t.Context(), &a, &tr); err != nil {
		t.Fatal(err)
	}
	// Ingest goes on during the backup.
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			if _, err := db.Ingest(ctx, "live", monitor.Batch{Observations: gridBatch(fmt.Sprintf("b%d-", i), 500)}, t0); err != nil && ctx.Err() == nil {
				t.Error(err)
				return
			}
		}
	})
	dest := filepath.Join(dir, "copy.gpkg")
	err := db.Backup(t.Context(), dest)
	stop()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Backup(t.Context(), dest); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Backup over an existing file = %v, want ErrExist", err)
	}
	if st, err := os.Stat(dest); err != nil || st.Mode().Perm()&^fileMode != 0 {
		t.Errorf("backup mode = %v, %v", st.Mode(), err)
	}

	cp := openTestDB(t, dest)
	for q, want := range map[string]string{
		`PRAGMA integrity_check`:                       "ok",
		`SELECT rtreecheck('rtree_observations_geom')`: "ok",
		`PRAGMA application_id`:                        fmt.Sprint(0x47504B47),
		`SELECT count(*) = (SELECT count(*) FROM rtree_observations_geom) FROM observations`: "1",
	} {
		if got := queryString(t, cp, q); got != want {
			t.Errorf("backup: %s = %s, want %s", q, got, want)
		}
	}
	if n := queryInt(t, cp, `SELECT count(*) FROM observations`); n < 2000 || n%500 != 0 {
		t.Errorf("backup has %d observations, want the seed and whole batches", n)
	}
	if _, err := exec.LookPath("ogrinfo"); err == nil {
		cp.Close()
		out := ogrinfo(t, "-ro", "-so", dest, "observations")
		if !strings.Contains(out, "Geometry: Point") {
			t.Errorf("ogrinfo on the backup:\n%s", out)
		}
	}
}

// gridBatch returns n observations with ids prefix0…, spread over the globe.
func gridBatch(prefix string, n int) []monitor.Observation {
	var b []monitor.Observation
	for i := range n {
		b = append(b, obs(fmt.Sprintf("%s%d", prefix, i), float64(i%360)-179.5, float64(i/360%170)-84.5, t0.Add(time.Duration(i)*time.Second)))
	}
	return b
}

func TestQuery(t *testing.T) {
	db := openTestDB(t, "")
	c := geo.Circle{Center: orb.Point{10, 50}, RadiusMeters: 200e3}
	var batch []monitor.Observation
	for i := range 3000 { // 5 days, 2 sources, 3 kinds, lon 8–12 × lat 48–52
		o := obs(fmt.Sprintf("q%04d", i), 8+float64(i%40)/10, 48+float64(i%37)/9, t0.Add(time.Duration(i*143)*time.Second))
		o.Kind = []string{"fire", "flood", "storm"}[i%3]
		o.Title = "t" + o.ID
		batch = append(batch, o)
	}
	ingest(t, db, "a", monitor.Batch{Observations: batch[:1500]})
	ingest(t, db, "b", monitor.Batch{Observations: batch[1500:]})
	all := func(f store.QueryFilter) []monitor.Observation {
		t.Helper()
		var got []monitor.Observation
		if err := db.Query(t.Context(), f, func(o monitor.Observation) error { got = append(got, o); return nil }); err != nil {
			t.Fatal(err)
		}
		return got
	}
	since, until := t0.Add(24*time.Hour), t0.Add(72*time.Hour)
	want, err := db.Observations(t.Context(), monitor.Query{Area: c, Since: since, Until: until, Kinds: []string{"fire", "storm"}, Detail: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		f    store.QueryFilter
		want func(monitor.Observation) bool
		n    int // expected count, if not from want
	}{
		{"everything", store.QueryFilter{}, func(monitor.Observation) bool { return true }, 3000},
		{"as Observations", store.QueryFilter{Area: c, Since: since, Until: until, Kinds: []string{"fire", "storm"}}, nil, len(want)},
		{"one source", store.QueryFilter{Sources: []string{"b"}}, func(o monitor.Observation) bool { return o.Source == "b" }, 1500},
		{"limit", store.QueryFilter{Sources: []string{"b"}, Kinds: []string{"flood"}, Limit: 7}, nil, 7},
		{"empty window", store.QueryFilter{Since: t0.Add(-time.Hour), Until: t0}, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := all(tc.f)
			if len(got) != tc.n {
				t.Fatalf("Query = %d observations, want %d", len(got), tc.n)
			}
			for i, o := range got {
				if i > 0 && (o.Time.Before(got[i-1].Time) || (o.Time.Equal(got[i-1].Time) && o.FID < got[i-1].FID)) {
					t.Fatalf("not in time order at %d", i)
				}
				if tc.want != nil && !tc.want(o) {
					t.Errorf("unexpected %+v", o)
				}
				if o.Title != "t"+o.ID || o.Ingested.IsZero() {
					t.Errorf("%s: detail fields missing: %+v", o.ID, o)
				}
			}
			if tc.name == "as Observations" && fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("Query differs from Observations")
			}
		})
	}
	stopErr := errors.New("enough")
	n := 0
	err = db.Query(t.Context(), store.QueryFilter{}, func(monitor.Observation) error {
		if n++; n == 10 {
			return stopErr
		}
		return nil
	})
	if err != stopErr || n != 10 {
		t.Errorf("Query with a failing fn = %v after %d rows, want %v after 10", err, n, stopErr)
	}
	_ = slices.Equal[[]int, int]
}
