package main

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

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
			spatial.String() + `\); SQLite ceiling [0-9]+ rows/s with R\*Tree, [0-9]+ without \(50000-row INSERT … SELECT\)$`)
		sum := regexp.MustCompile(`^load +spatial_index ` + spatial.String() + `: [0-9.]+× the SQLite ceiling with R\*Tree, [0-9.]+× the ceiling without \(medians of 2 rounds\)$`)
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

// TestBenchIngestCLI runs the bench's `geowatch ingest` figure on the shared
// workload's first rows: a process of the built binary imports every row
// through a config's csv source, and the line reports them with its rate and
// the child's own peak memory.
func TestBenchIngestCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	workload := benchSlice(t, dir, "csv", 3000)
	var out, stderr bytes.Buffer
	if err := benchIngestCLI(t.Context(), bin, dir, workload, store.SpatialIndexOff, &out, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	line := regexp.MustCompile(`^ingest +geowatch ingest \(a process, CSV, [0-9]+-row transactions, spatial_index off\): ` +
		`3000 added in [0-9.]+ s, [0-9]+ obs/s, peak RSS [0-9]+\.[0-9] MB \(its VmHWM, read every 20 ms\)\n$`)
	if !line.MatchString(out.String()) {
		t.Errorf("bench ingest printed %q", out.String())
	}
}
