package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/sqlite"
)

// TestBenchRounds runs the bench's load rounds on the shared workload's
// first rows, in both spatial_index settings: each round loads every row and
// reports the SQLite ceilings measured in the same run, and the summary gives
// the ratios.
func TestBenchRounds(t *testing.T) {
	dir := t.TempDir()
	workload := benchSlice(t, dir, "csv", 3000)
	for _, spatial := range []store.SpatialIndex{store.SpatialIndexRTree, store.SpatialIndexOff} {
		var out bytes.Buffer
		db := filepath.Join(dir, "bench-"+spatial.String()+".gpkg")
		rate, err := benchRounds(t.Context(), dir, db, workload, 1000, 2, spatial, &out)
		if err != nil {
			t.Fatal(err)
		}
		if rate <= 0 {
			t.Errorf("benchRounds returned a load rate of %v obs/s", rate)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		round := regexp.MustCompile(`^round [12] +load 3000 observations in [0-9.]+ s: [0-9]+ obs/s \(parsing included, 1000-row transactions, spatial_index ` +
			spatial.String() + `\); SQLite ceiling [0-9]+ rows/s with R\*Tree, [0-9]+ without \(50000-row INSERT … SELECT\); geowatch's schema floor [0-9]+ rows/s$`)
		sum := regexp.MustCompile(`^load +spatial_index ` + spatial.String() + `: [0-9.]+× the SQLite ceiling with R\*Tree, [0-9.]+× the ceiling without, [0-9.]+× the schema floor \(medians of 2 rounds\)$`)
		if len(lines) != 3 || !round.MatchString(lines[0]) || !round.MatchString(lines[1]) || !sum.MatchString(lines[2]) {
			t.Errorf("bench rounds printed:\n%s", out.String())
		}
		st, err := sqlite.Open(t.Context(), db, store.ReadOnly())
		if err != nil {
			t.Fatal(err)
		}
		n, err := st.CountObservations(t.Context())
		if err != nil || n != 3000 || st.SpatialIndexOn() != (spatial == store.SpatialIndexRTree) {
			t.Errorf("after the rounds: %d stored (%v), R*Tree %v; want 3000, %v", n, err, st.SpatialIndexOn(), spatial)
		}
		st.Close()
	}
}

// TestBenchHTTPQuery runs the bench's "Q over HTTP" figures on a loaded
// database: the shared workload's first rows plus rows placed in and just out
// of Q (too far, too early, at its exclusive end). Geowatch's endpoint must
// answer the store's rows, and a Tile38 HTTP interface (here a loopback server
// that checks the command it is sent) the same count.
func TestBenchHTTPQuery(t *testing.T) {
	dir := t.TempDir()
	workload := benchSlice(t, dir, "csv", 2000)
	f, err := os.OpenFile(workload, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	in := []string{"2026-11-26T00:00:00Z", "2026-11-26T13:30:00Z", "2026-11-26T23:59:59Z"}
	for i, at := range in {
		fmt.Fprintf(f, "q-in-%d,bench,ship,%s,43.2,131.9\n", i, at)
	}
	fmt.Fprintln(f, "q-far,bench,ship,2026-11-26T12:00:00Z,44.0,131.9")   // ~98 km north
	fmt.Fprintln(f, "q-early,bench,ship,2026-11-25T23:59:59Z,43.2,131.9") // before since
	fmt.Fprintln(f, "q-end,bench,ship,2026-11-27T00:00:00Z,43.2,131.9")   // until is exclusive
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "bench.gpkg")
	if _, err := benchRounds(t.Context(), dir, db, workload, 1000, 1, store.SpatialIndexOff, io.Discard); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(t.Context(), db, store.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	obs, err := st.Observations(t.Context(), monitor.Query{Area: geo.Circle{Center: benchCenter, RadiusMeters: 50000}, Since: benchSince, Until: benchUntil})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	var inQ int
	for _, o := range obs {
		if strings.HasPrefix(o.ID, "q-") {
			inQ++
			if !strings.HasPrefix(o.ID, "q-in-") {
				t.Errorf("the store answers Q with %s", o.ID)
			}
		}
	}
	if inQ != len(in) {
		t.Fatalf("the store answers Q with %d of the rows placed in it, want %d", inQ, len(in))
	}

	h, err := startHTTPQuery(t.Context(), db, len(obs))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var out bytes.Buffer
	if _, err := benchHTTPQuery(t.Context(), h, 5, &out); err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(fmt.Sprintf(`^query Q   over HTTP: GET /v1/observations %d rows as ndjson; median [0-9.]+ ms, p99 [0-9.]+ ms over 5 requests \(one keep-alive client, client side\)\n$`, len(obs)))
	if !line.MatchString(out.String()) {
		t.Errorf("bench printed %q", out.String())
	}
	_, body, err := h.get(t.Context(), h.url)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for l := range strings.Lines(string(body)) {
		var o struct {
			Properties struct {
				ExtID string `json:"ext_id"`
			}
		}
		if err := json.Unmarshal([]byte(l), &o); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		got = append(got, o.Properties.ExtID)
	}
	var want []string
	for _, o := range obs {
		want = append(want, o.ID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("GET /v1/observations answered %v, the store %v", got, want)
	}

	// Tile38's HTTP interface takes the command as the path, its arguments
	// joined by '+'.
	cmd := "/" + strings.Join(tile38Q(), "+")
	t38 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != cmd {
			http.Error(w, "got "+r.URL.Path+", want "+cmd, http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, `{"ok":true,"count":%d,"cursor":0,"elapsed":"80µs"}`, len(obs))
	}))
	defer t38.Close()
	if _, err := h.tile38(t.Context(), strings.TrimPrefix(t38.URL, "http://")); err != nil {
		t.Error(err)
	}
	h.want++ // a count that differs is an error
	if _, err := h.tile38(t.Context(), strings.TrimPrefix(t38.URL, "http://")); err == nil {
		t.Error("a Tile38 count other than the store's passed")
	}
}

// TestBenchCommand runs `geowatch bench` as the README shows, with the built
// binary, on the shared workload's first rows into a --db that stays: every
// figure is printed, and the disk line reports the file's size and rows.
func TestBenchCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	workload := benchSlice(t, dir, "csv", 3000)
	db := filepath.Join(dir, "bench.gpkg")
	out, err := exec.CommandContext(t.Context(), bin, "bench", "--workload", workload, "--db", db, "--batch", "1000", "--queries", "3").CombinedOutput()
	if err != nil {
		t.Fatalf("geowatch bench: %v\n%s", err, out)
	}
	for _, want := range []string{
		`(?m)^round 1   load 3000 observations in `,
		`(?m)^load      spatial_index rtree: [0-9.]+× the SQLite ceiling with R\*Tree`,
		`(?m)^query Q   [0-9]+ observations; median `,
		`(?m)^query Q   in the engine's memory `,
		`(?m)^round     1000 watches `,
		`(?m)^rule scan    100 watches `,
		`(?m)^query Q   over HTTP: GET /v1/observations [0-9]+ rows as ndjson; `,
		`(?m)^start-up  3000 stored: open \+ first Q `,
		// a process of the built binary, through a config's csv source; its own peak memory
		`(?m)^ingest    geowatch ingest \(a process, CSV, [0-9]+-row transactions, spatial_index rtree\): ` +
			`3000 added in [0-9.]+ s, [0-9]+ obs/s, peak RSS [0-9]+\.[0-9] MB \(its VmHWM, read every 20 ms\)$`,
	} {
		if !regexp.MustCompile(want).Match(out) {
			t.Errorf("no line matching %s in:\n%s", want, out)
		}
	}
	m := regexp.MustCompile(`(?m)^disk      ([0-9]+) observations in ([0-9.]+) MB \(([0-9]+) B each: the main file, spatial_index rtree\)$`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no disk line in:\n%s", out)
	}
	fi, err := os.Stat(db)
	if err != nil {
		t.Fatal(err)
	}
	var n, each int
	var size float64
	fmt.Sscan(string(m[1]), &n)
	fmt.Sscan(string(m[2]), &size)
	fmt.Sscan(string(m[3]), &each)
	// The file may have grown since by the alerts the rounds opened; never shrunk.
	if mib := float64(fi.Size()) / (1 << 20); n != 3000 || size <= 0 || size > mib+0.05 || size < mib/2 {
		t.Errorf("disk line says %d observations in %.1f MB; the file holds 3000 in %.2f MB", n, size, mib)
	}
	// B each is the exact size over the rows; MB is rounded to a tenth.
	if d := math.Abs(float64(each*n) - size*(1<<20)); d > 0.05*(1<<20)+float64(n) {
		t.Errorf("disk line says %d B each for %.1f MB / %d", each, size, n)
	}
}
