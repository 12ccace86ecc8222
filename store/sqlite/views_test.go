package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/geowatch/geowatch/store"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
)

func TestNewFileMode(t *testing.T) {
	old := syscall.Umask(0) // the widest umask: the mode must not depend on it
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "geowatch.gpkg")
	db := openTestDB(t, path)
	ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{obs("a", 1, 2, t0)}})
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got&^fileMode != 0 {
			t.Errorf("mode of %s = %v, want %v or tighter", filepath.Base(p), got, fileMode)
		}
	}
}

func TestAlertStats(t *testing.T) {
	path := filepath.Join(t.TempDir(), "geowatch.gpkg")
	db := openTestDB(t, path)
	a := testAlert()
	a.Finding.Stats = map[string]float64{"observed": 12, "expected": 0, "ratio": math.Inf(1), "p": 1.5e-9, "z": math.NaN()}
	tr := monitor.Transition{At: t0, To: monitor.StateFiring}
	if err := db.SaveTransition(t.Context(), &a, &tr); err != nil {
		t.Fatal(err)
	}
	plain := testAlert() // no stats: NULL, and nil back
	tr2 := monitor.Transition{At: t0, To: monitor.StateFiring}
	if err := db.SaveTransition(t.Context(), &plain, &tr2); err != nil {
		t.Fatal(err)
	}
	check := func(where string, got []monitor.Alert) {
		t.Helper()
		if len(got) != 2 {
			t.Fatalf("%s: %d alerts, want 2", where, len(got))
		}
		for _, g := range got {
			want := plain.Finding.Stats
			if g.ID == a.ID {
				want = a.Finding.Stats
			}
			// fmt prints NaN as NaN, so equal maps print alike (sorted keys).
			if fmt.Sprint(g.Finding.Stats) != fmt.Sprint(want) || (want == nil) != (g.Finding.Stats == nil) {
				t.Errorf("%s: alert %d stats = %v, want %v", where, g.ID, g.Finding.Stats, want)
			}
		}
	}
	open, err := db.OpenAlerts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	check("OpenAlerts", open)
	list, err := db.Alerts(t.Context(), store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	check("Alerts", list)
	evs, err := db.UnnotifiedTransitions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var fromEvents []monitor.Alert
	for _, e := range evs {
		fromEvents = append(fromEvents, e.Alert)
	}
	check("UnnotifiedTransitions", fromEvents)
	a.Finding.Stats = map[string]float64{"observed": 13}
	if err := db.UpdateAlert(t.Context(), &a); err != nil {
		t.Fatal(err)
	}
	if s := queryString(t, db, fmt.Sprintf(`SELECT stats FROM alerts WHERE id = %d`, a.ID)); s != `{"observed":13}` {
		t.Errorf("stats column = %s, want {\"observed\":13}", s)
	}
}

func TestViews(t *testing.T) {
	now := time.Now().UTC() // recent_observations reads SQLite's clock
	db := openTestDB(t, "")
	ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{
		obs("new", 1, 1, now.Add(-time.Hour)),
		obs("edge-in", 1, 1, now.Add(-23*time.Hour)),
		obs("old", 1, 1, now.Add(-25*time.Hour)),
	}})
	firing, resolved := testAlert(), testAlert()
	resolved.Watch = "tokyo"
	open := monitor.Transition{At: t0, To: monitor.StateFiring}
	if err := db.SaveTransition(t.Context(), &firing, &open); err != nil {
		t.Fatal(err)
	}
	open2 := open
	if err := db.SaveTransition(t.Context(), &resolved, &open2); err != nil {
		t.Fatal(err)
	}
	resolved.State, resolved.EndsAt = monitor.StateResolved, t0.Add(time.Hour)
	end := monitor.Transition{At: t0.Add(time.Hour), From: monitor.StateFiring, To: monitor.StateResolved}
	if err := db.SaveTransition(t.Context(), &resolved, &end); err != nil {
		t.Fatal(err)
	}
	if err := db.markOne(t.Context(), open.ID, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, r := range []monitor.CheckRun{
		{Source: "ok", Type: "geojson", Started: t0},
		{Source: "down", Type: "rss", Started: t0, Err: errors.New("HTTP 503")},
		{Source: "flaky", Type: "csv", Started: t0},
		{Source: "flaky", Type: "csv", Started: t0.Add(time.Minute), Err: errors.New("timeout")},
	} {
		if err := db.RecordCheck(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, q, want string
	}{
		{"recent_observations", `SELECT group_concat(ext_id) FROM recent_observations`, "new,edge-in"},
		{"open_alerts", `SELECT group_concat(watch || ':' || rule || ':' || severity) FROM open_alerts`, "vladivostok:quakes:warning"},
		{"alert_history", `SELECT group_concat(watch || ' ' || coalesce(from_state, '-') || '>' || to_state || ' ' ||
			at || ' ' || coalesce(notified_at, 'unnotified'), '; ') FROM alert_history`,
			"vladivostok ->firing 2026-11-26T00:00:00.000Z 2026-11-26T00:01:00.000Z; " +
				"tokyo ->firing 2026-11-26T00:00:00.000Z unnotified; " +
				"tokyo firing>resolved 2026-11-26T01:00:00.000Z unnotified"},
		{"source_health", `SELECT group_concat(name || ':' || healthy || ':' || consecutive_failures || ':' ||
			coalesce(last_error, '') || ':' || coalesce(last_success, 'never')) FROM source_health`,
			"down:0:1:HTTP 503:never,flaky:0:1:timeout:2026-11-26T00:00:00.000Z,ok:1:0::2026-11-26T00:00:00.000Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := queryString(t, db, tc.q); got != tc.want {
				t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
			}
		})
	}
}

// TestDistanceSQL checks that the README's distance SQL selects exactly the rows
// Observations does, on points scattered over ±1° around the query centre.
func TestDistanceSQL(t *testing.T) {
	db := openTestDB(t, "")
	c := geo.Circle{Center: orb.Point{131.8855, 43.1155}, RadiusMeters: 50e3}
	rng := rand.New(rand.NewPCG(1, 2))
	var batch []monitor.Observation
	for i := range 4000 {
		p := orb.Point{c.Center.Lon() + 2*rng.Float64() - 1, c.Center.Lat() + 2*rng.Float64() - 1}
		at := t0.Add(time.Duration(rng.Int64N(int64(48 * time.Hour)))).Add(-12 * time.Hour)
		batch = append(batch, obs(fmt.Sprintf("p%04d", i), p.Lon(), p.Lat(), at))
	}
	ingest(t, db, "s", monitor.Batch{Observations: batch})
	want, err := db.Observations(t.Context(), monitor.Query{Area: c, Since: t0, Until: t0.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.r.QueryContext(t.Context(), exampleDistanceSQL)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []int64
	for rows.Next() {
		var (
			fid                int64
			source, id, kind   string
			at                 time.Time
			lat, lon, distance float64
		)
		if err := rows.Scan(&fid, &source, &id, &at, &kind, &lat, &lon, &distance); err != nil {
			t.Fatal(err)
		}
		if d := geo.Distance(c.Center, orb.Point{lon, lat}); math.Abs(d-distance) > 0.5 {
			t.Errorf("%s: distance_m = %.0f, want %.0f", id, distance, d)
		}
		got = append(got, fid)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var wantFIDs []int64
	for _, o := range want {
		wantFIDs = append(wantFIDs, o.FID)
	}
	if len(want) < 100 || !slices.Equal(got, wantFIDs) {
		t.Errorf("distance SQL selects %d rows, Observations %d; equal in order: %v", len(got), len(want), slices.Equal(got, wantFIDs))
	}

	// The same SQL in the stock shell, which has its own math functions.
	if _, err := exec.LookPath("sqlite3"); err != nil {
		t.Log("sqlite3 shell not installed: distance SQL checked through the driver only")
		return
	}
	cmd := exec.Command("sqlite3", "-readonly", "-batch", db.Path())
	cmd.Stdin = strings.NewReader(exampleDistanceSQL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3: %v\n%s", err, out)
	}
	var shell []int64
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fid, err := strconv.ParseInt(strings.Split(line, "|")[0], 10, 64)
		if err != nil {
			t.Fatalf("sqlite3 output line %q: %v", line, err)
		}
		shell = append(shell, fid)
	}
	if !slices.Equal(shell, wantFIDs) {
		t.Errorf("distance SQL in the sqlite3 shell selects %d rows, Observations %d", len(shell), len(want))
	}
}

// TestWriterTriggersOff checks that the writer runs no triggers (triggers.go)
// while any other connection to the file does.
func TestWriterTriggersOff(t *testing.T) {
	db := openTestDB(t, "")
	ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{obs("a", 1, 2, t0), obs("b", 3, 4, t0)}})
	if _, err := db.w.Exec(`DELETE FROM observations WHERE ext_id = 'a'`); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM rtree_observations_geom`); n != 2 {
		t.Errorf("after a delete on the writer: %d rtree rows, want 2 (no trigger)", n)
	}
	plain, err := sql.Open("sqlite3", db.Path()) // go-sqlite3's own driver: triggers on
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := plain.Exec(`DELETE FROM observations WHERE ext_id = 'b'`); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM rtree_observations_geom`); n != 1 {
		t.Errorf("after a delete on another connection: %d rtree rows, want 1 (its trigger ran)", n)
	}
}

func TestMigrationsRunTriggers(t *testing.T) {
	d := withTriggers(dsn("/x/geowatch.gpkg", store.Options{}, false))
	if strings.Contains(d, triggersOff) || !strings.Contains(d, "_txlock=immediate") {
		t.Errorf("withTriggers(writer dsn) = %s", d)
	}
	if d := dsn("/x/geowatch.gpkg", store.Options{}, false); !strings.Contains(d, triggersOff+"=off") {
		t.Errorf("writer dsn %s lacks %s=off", d, triggersOff)
	}
}
