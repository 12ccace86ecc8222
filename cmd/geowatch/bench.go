package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/rule"
	"github.com/geowatch/geowatch/monitor/source/csv"
	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/sqlite"
	"github.com/paulmach/orb"
	"go.uber.org/zap"
)

// The shared benchmark's reference question Q: observations within 50 km of
// Vladivostok with a time in the last day of the workload.
var (
	benchCenter = orb.Point{131.8855, 43.1155}
	benchSince  = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	benchUntil  = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
)

// cmdBench measures geowatch on the shared workload (../shared/bench): load
// throughput with parsing, the reference radius+window query, and start-up time
// and memory with everything stored — the figures the peers' table reports.
func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", stderr)
	workload := fs.String("workload", "", "workload `CSV` from gen_workload.py --format csv (default: generate it with ../shared/bench/gen_workload.py)")
	dbPath := fs.String("db", "", "database `FILE` to load into (default: a temporary file); an existing one is measured as it is, without loading; or a scratch PostgreSQL database's postgres:// URL, emptied and loaded in each round and compared with a plain COPY")
	batch := fs.Int("batch", 10000, "rows per ingest transaction")
	queries := fs.Int("queries", 200, "times to run the query")
	openOnly := fs.Bool("open-only", false, "internal: open --db, run Q once, print the start-up figures and exit")
	spatialFlag := fs.String("spatial-index", "rtree", "`rtree` or off: the loaded database's spatial_index, and the SQLite ceiling it is compared with")
	rounds := fs.Int("rounds", 1, "interleaved `N` rounds of (SQLite ceilings, schema floor, load); the ratios printed are the medians of the rounds'")
	tile38 := fs.String("tile38", "", "compare with the Tile38 server at `ADDR` (host:port): the same rows loaded with pipelined SETs, Q, Q over HTTP, and Q as a process (tile38-cli from PATH or $TILE38_CLI)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	spatial, err := store.ParseSpatialIndex(*spatialFlag)
	if err != nil || spatial == store.SpatialIndexKeep {
		return usageError{fmt.Sprintf("bench: --spatial-index %q: want rtree or off", *spatialFlag)}
	}
	if *rounds < 1 {
		return usageError{"bench: --rounds must be at least 1"}
	}
	if *openOnly {
		return benchOpen(ctx, *dbPath, stdout)
	}
	dir, err := os.MkdirTemp("", "geowatch-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if store.KindOf(*dbPath) == store.PostgreSQL {
		if *workload == "" {
			if *workload, err = generateWorkload(ctx, dir, stderr); err != nil {
				return err
			}
		}
		return benchPostgres(ctx, *dbPath, dir, *workload, *batch, *rounds, *queries, stdout)
	}
	if *dbPath == "" {
		*dbPath = filepath.Join(dir, "bench.gpkg")
	}
	_, statErr := os.Stat(*dbPath)
	load := statErr != nil
	if load && *workload == "" {
		if *workload, err = generateWorkload(ctx, dir, stderr); err != nil {
			return err
		}
	}

	var loadRate float64
	if load {
		if loadRate, err = benchRounds(ctx, dir, *dbPath, *workload, *batch, *rounds, spatial, stdout); err != nil {
			return err
		}
	}
	size := fileBytes(*dbPath)
	st, err := sqlite.Open(ctx, *dbPath)
	if err != nil {
		return err
	}
	engine, err := monitor.NewEngine(ctx, st, zap.NewNop())
	if err != nil {
		st.Close()
		return err
	}
	if !load {
		fmt.Fprintf(stdout, "load      skipped: measuring %s as it is\n", *dbPath)
	}
	stored, err := st.CountObservations(ctx)
	if err != nil {
		st.Close()
		return err
	}
	fmt.Fprintf(stdout, "disk      %d observations in %.1f MB (%.0f B each: the main file, spatial_index %s)\n",
		stored, mb(size), float64(size)/float64(max(stored, 1)), map[bool]string{true: "rtree", false: "off"}[st.SpatialIndexOn()])

	q := monitor.Query{Area: geo.Circle{Center: benchCenter, RadiusMeters: 50000}, Since: benchSince, Until: benchUntil}
	lat := make([]time.Duration, 0, *queries)
	var answer int
	for range *queries {
		start := time.Now()
		obs, err := st.Observations(ctx, q)
		lat = append(lat, time.Since(start))
		if err != nil {
			st.Close()
			return err
		}
		answer = len(obs)
	}
	slices.Sort(lat)
	fmt.Fprintf(stdout, "query Q   %d observations; median %.3f ms, p99 %.3f ms over %d runs\n",
		answer, ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100]), len(lat))
	if err := benchMemory(ctx, st, q, *queries, lat[len(lat)/2], stdout); err != nil {
		st.Close()
		return err
	}
	if err := benchRules(ctx, engine, stdout); err != nil {
		st.Close()
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	h, err := startHTTPQuery(ctx, *dbPath, answer)
	if err != nil {
		return err
	}
	defer h.Close()
	if _, err := benchHTTPQuery(ctx, h, *queries, stdout); err != nil {
		return err
	}
	if err := benchTile38(ctx, tile38Peer{addr: *tile38, workload: *workload, dir: dir, dbPath: *dbPath, batch: *batch,
		queries: *queries, loadRate: loadRate, qMedian: lat[len(lat)/2], http: h}, stdout, stderr); err != nil {
		return err
	}

	// Start-up in a fresh process, so its memory is the daemon's, not the loader's.
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, exe, "bench", "--open-only", "--db", *dbPath)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		return err
	}
	if load {
		return benchIngestCLI(ctx, exe, dir, *workload, spatial, stdout, stderr)
	}
	return nil
}

// benchIngestCLI imports the workload with `geowatch ingest` in a process of
// its own, as a user would, through a config whose csv source maps its
// columns, and reports its rate and peak resident memory.
func benchIngestCLI(ctx context.Context, exe, dir, workload string, spatial store.SpatialIndex, stdout, stderr io.Writer) error {
	db := filepath.Join(dir, "ingest.gpkg")
	defer removeDB(db)
	cfg := filepath.Join(dir, "ingest.yaml")
	yaml := fmt.Sprintf(`database: %q
spatial_index: %s
sources:
  - name: bench
    type: csv
    url: %q
    schedule: "@daily"
    header: true
    fields: {id: id, time: time, lat: lat, lon: lon, kind: kind}
`, db, spatial, workload)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		return err
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, exe, "ingest", workload, "--source", "bench", "--config", cfg)
	cmd.Stdout, cmd.Stderr = &out, stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("bench: geowatch ingest: %w", err)
	}
	// The child's own VmHWM, read until it exits: the rusage of a child
	// started by a large parent counts the parent's memory at the fork.
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	done := make(chan struct{})
	peak := make(chan int, 1)
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		kb := 0
		for {
			if v, ok := vmHWM(status); ok {
				kb = max(kb, v)
			}
			select {
			case <-done:
				peak <- kb
				return
			case <-tick.C:
			}
		}
	}()
	err := cmd.Wait()
	took := time.Since(start)
	close(done)
	kb := <-peak
	if err != nil {
		return fmt.Errorf("bench: geowatch ingest: %w", err)
	}
	var res monitor.IngestResult
	if _, err := fmt.Sscanf(out.String(), "seen %d, added %d", &res.Seen, &res.Added); err != nil {
		return fmt.Errorf("bench: geowatch ingest printed %q: %w", out.String(), err)
	}
	rss := "unknown"
	if kb > 0 {
		rss = fmt.Sprintf("%.1f MB (its VmHWM, read every 20 ms)", float64(kb)/1024)
	}
	_, err = fmt.Fprintf(stdout, "ingest    geowatch ingest (a process, CSV, %d-row transactions, spatial_index %s): %d added in %.2f s, %.0f obs/s, peak RSS %s\n",
		ingestChunk, spatial, res.Added, took.Seconds(), float64(res.Added)/took.Seconds(), rss)
	return err
}

// benchMemory measures the engine's answers from memory against the store's on
// one run: Q (whose answers must be the store's, row for row) and a round of
// 1,000 watches, each by an engine preloaded with the round's window and by
// one that keeps nothing in memory; the two rounds' alerts must agree.
func benchMemory(ctx context.Context, st *sqlite.DB, q monitor.Query, queries int, qStore time.Duration, stdout io.Writer) error {
	ws, err := benchWatches(1000)
	if err != nil {
		return err
	}
	fromStore, err := monitor.NewEngine(ctx, st, zap.NewNop())
	if err != nil {
		return err
	}
	defer fromStore.Close(ctx)
	fromStore.SetRecentLimit(0)
	fromMemory, err := monitor.NewEngine(ctx, st, zap.NewNop())
	if err != nil {
		return err
	}
	defer fromMemory.Close(ctx)
	start := time.Now()
	if err := fromMemory.Preload(ctx, ws, benchUntil); err != nil {
		return err
	}
	loaded := time.Since(start)

	want, err := st.Observations(ctx, q)
	if err != nil {
		return err
	}
	lat := make([]time.Duration, 0, queries)
	for range queries {
		start := time.Now()
		got, err := fromMemory.Observations(ctx, q)
		lat = append(lat, time.Since(start))
		if err != nil {
			return err
		}
		if !slices.EqualFunc(got, want, sameStored) {
			return fmt.Errorf("bench: Q from memory has %d rows, the store %d, or they differ", len(got), len(want))
		}
	}
	slices.Sort(lat)
	qMem := lat[len(lat)/2]
	fmt.Fprintf(stdout, "query Q   in the engine's memory (loaded in %.0f ms): median %.4f ms, %.3f× the store's; same %d rows\n",
		ms(loaded), ms(qMem), float64(qMem)/float64(qStore), len(want))

	// The first round opens the alerts (a transaction each); the second, on
	// the same data, is a round of the daemon in steady state.
	var firstStore, firstMem, fromStoreRound, fromMemoryRound roundStats
	for _, r := range []struct {
		e     *monitor.Engine
		stats *roundStats
	}{{fromStore, &firstStore}, {fromMemory, &firstMem}, {fromStore, &fromStoreRound}, {fromMemory, &fromMemoryRound}} {
		if *r.stats, err = benchRound(ctx, r.e, ws); err != nil {
			return err
		}
	}
	a, b := fromStore.OpenAlerts(), fromMemory.OpenAlerts()
	if !slices.EqualFunc(a, b, func(x, y monitor.Alert) bool {
		return x.Watch == y.Watch && x.Rule == y.Rule && slices.Equal(x.Finding.FIDs, y.Finding.FIDs)
	}) {
		return fmt.Errorf("bench: the round from memory opened %d alerts, the round from the store %d, or they differ", len(b), len(a))
	}
	m, sr := fromMemoryRound, fromStoreRound
	fmt.Fprintf(stdout, "round     1000 watches (count + cluster, 50 km): %.1f ms from memory, %.1f ms from the store (%.3f×); the first, opening the same %d alerts: %.1f ms and %.1f ms\n",
		ms(m.took), ms(sr.took), m.took.Seconds()/sr.took.Seconds(), len(a), ms(firstMem.took), ms(firstStore.took))
	fmt.Fprintf(stdout, "round     allocations: %d (%.1f MB) from memory, %d (%.1f MB) from the store: %.1f× fewer\n",
		m.allocs, float64(m.bytes)/1e6, sr.allocs, float64(sr.bytes)/1e6, float64(sr.allocs)/float64(max(m.allocs, 1)))
	ws10k, err := benchWatches(10_000)
	if err != nil {
		return err
	}
	if err := fromMemory.Preload(ctx, ws10k, benchUntil); err != nil {
		return err
	}
	for range 2 { // the first opens the alerts
		if m, err = benchRound(ctx, fromMemory, ws10k); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "round     10000 watches (count + cluster, 50 km) from memory: %.1f ms, %d allocations\n", ms(m.took), m.allocs)
	return nil
}

// sameStored reports whether two observations are the same row as a rule reads it.
func sameStored(a, b monitor.Observation) bool {
	return a.FID == b.FID && a.Source == b.Source && a.ID == b.ID && a.Time.Equal(b.Time) && a.Point == b.Point &&
		a.Kind == b.Kind && a.Weight == b.Weight && a.Precision == b.Precision
}

// benchRules evaluates each rule type on 100 watches spread over the workload's
// area (seeded), as the daemon would at the workload's last instant.
func benchRules(ctx context.Context, engine *monitor.Engine, stdout io.Writer) error {
	type ruleCase struct {
		name string
		make func() (monitor.Rule, error)
	}
	cases := []ruleCase{
		{"count", func() (monitor.Rule, error) {
			return rule.NewCount(rule.CountParams{Min: 10, Window: 24 * time.Hour})
		}},
		{"cluster", func() (monitor.Rule, error) {
			return rule.NewCluster(rule.ClusterParams{EpsMeters: 10000, MinPoints: 5, Window: 24 * time.Hour})
		}},
		{"surge", func() (monitor.Rule, error) {
			return rule.NewSurge(rule.SurgeParams{Window: 6 * time.Hour, Baseline: 7 * 24 * time.Hour, Alpha: 0.01, Min: 5})
		}},
		{"scan", func() (monitor.Rule, error) {
			return rule.NewScan(rule.ScanParams{AreaMeters: 100000, Period: 7 * 24 * time.Hour, MaxRadiusMeters: 20000,
				MaxWindow: 2 * 24 * time.Hour, Replicates: 99, EvalEvery: time.Hour, Recurrence: 72 * time.Hour})
		}},
	}
	rng := rand.New(rand.NewPCG(42, 42))
	centers := make([]orb.Point, 100)
	for i := range centers {
		centers[i] = orb.Point{100 + 50*rng.Float64(), 20 + 35*rng.Float64()}
	}
	for _, c := range cases {
		r, err := c.make()
		if err != nil {
			return err
		}
		start := time.Now()
		for i, p := range centers {
			w := &monitor.Watch{Name: fmt.Sprintf("bench-%s-%d", c.name, i), Center: p, RadiusMeters: 50000,
				Rules: []monitor.NamedRule{{Name: c.name, Type: c.name, Rule: r}}}
			if err := engine.Evaluate(ctx, w, benchUntil); err != nil {
				return err
			}
		}
		took := time.Since(start)
		fmt.Fprintf(stdout, "rule %-7s 100 watches (50 km) evaluated in %.1f ms: %.2f ms per watch\n",
			c.name, ms(took), ms(took)/float64(len(centers)))
	}
	return nil
}

// benchWatches are n watches with a count and a cluster rule (50 km), spread
// over the workload's area (seeded): the "one round of N watches".
func benchWatches(n int) ([]*monitor.Watch, error) {
	count, err := rule.NewCount(rule.CountParams{Min: 10, Window: 24 * time.Hour})
	if err != nil {
		return nil, err
	}
	cluster, err := rule.NewCluster(rule.ClusterParams{EpsMeters: 10000, MinPoints: 5, Window: 24 * time.Hour})
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(7, 7))
	ws := make([]*monitor.Watch, n)
	for i := range ws {
		ws[i] = &monitor.Watch{Name: fmt.Sprintf("round-%d", i), Center: orb.Point{100 + 50*rng.Float64(), 20 + 35*rng.Float64()},
			RadiusMeters: 50000, Rules: []monitor.NamedRule{{Name: "count", Type: "count", Rule: count}, {Name: "cluster", Type: "cluster", Rule: cluster}}}
	}
	return ws, nil
}

// benchRound evaluates every watch once at the workload's last instant, one
// after the other as one node's round does, and returns how long it took and
// how many allocations it made.
func benchRound(ctx context.Context, engine *monitor.Engine, ws []*monitor.Watch) (roundStats, error) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	for _, w := range ws {
		if err := engine.Evaluate(ctx, w, benchUntil); err != nil {
			return roundStats{}, err
		}
	}
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	return roundStats{took: took, allocs: after.Mallocs - before.Mallocs, bytes: after.TotalAlloc - before.TotalAlloc}, nil
}

// roundStats is what a round of evaluations cost.
type roundStats struct {
	took          time.Duration
	allocs, bytes uint64
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ceilingBatch is the transaction size of the SQLite ceilings, as
// ../shared/bench/ceiling.py.
const ceilingBatch = 50_000

// benchRounds measures, in rounds, the SQLite ceilings on the workload's rows
// (with and without the R*Tree: sqlite.Ceiling), the floor of geowatch's own
// schema under the same rows (sqlite.SchemaFloor: staged rows, the store's
// indexes, upsert and RETURNING, in the load's transaction size and
// spatial_index) and the engine's load of the same rows (parsing, validation,
// dedupe, the store with its indexes) into a fresh database, interleaved, and
// prints each round and the medians of the per-round ratios. The last round's
// database is left at dbPath. It returns the median load rate in obs/s.
func benchRounds(ctx context.Context, dir, dbPath, workload string, batch, rounds int, spatial store.SpatialIndex, stdout io.Writer) (float64, error) {
	rows, err := ceilingRows(workload)
	if err != nil {
		return 0, err
	}
	var withRT, without, floors, rates []float64
	for r := range rounds {
		ceil := func(rtree bool) (float64, error) {
			path := filepath.Join(dir, fmt.Sprintf("ceiling-%d-%v.db", r, rtree))
			defer removeDB(path)
			took, err := sqlite.Ceiling(ctx, path, rows, ceilingBatch, rtree)
			if err != nil {
				return 0, err
			}
			return float64(len(rows)) / took.Seconds(), nil
		}
		rt, err := ceil(true)
		if err != nil {
			return 0, err
		}
		plain, err := ceil(false)
		if err != nil {
			return 0, err
		}
		floorPath := filepath.Join(dir, fmt.Sprintf("floor-%d.gpkg", r))
		took, err := sqlite.SchemaFloor(ctx, floorPath, rows, batch, spatial == store.SpatialIndexRTree)
		removeDB(floorPath)
		if err != nil {
			return 0, err
		}
		floor := float64(len(rows)) / took.Seconds()
		removeDB(dbPath)
		st, err := sqlite.Open(ctx, dbPath, store.WithSpatialIndex(spatial))
		if err != nil {
			return 0, err
		}
		engine, err := monitor.NewEngine(ctx, st, zap.NewNop())
		if err != nil {
			st.Close()
			return 0, err
		}
		res, took, err := benchLoad(ctx, engine, workload, batch)
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return 0, err
		}
		rate := float64(res.Added) / took.Seconds()
		withRT, without, floors, rates = append(withRT, rate/rt), append(without, rate/plain), append(floors, rate/floor), append(rates, rate)
		fmt.Fprintf(stdout, "round %d   load %d observations in %.2f s: %.0f obs/s (parsing included, %d-row transactions, spatial_index %s); "+
			"SQLite ceiling %.0f rows/s with R*Tree, %.0f without (%d-row INSERT … SELECT); geowatch's schema floor %.0f rows/s\n",
			r+1, res.Added, took.Seconds(), rate, batch, spatial, rt, plain, ceilingBatch, floor)
	}
	fmt.Fprintf(stdout, "load      spatial_index %s: %.2f× the SQLite ceiling with R*Tree, %.2f× the ceiling without, %.2f× the schema floor (medians of %d rounds)\n",
		spatial, median(withRT), median(without), median(floors), rounds)
	return median(rates), nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// fileBytes is the size of the file at path, 0 when it cannot be read.
func fileBytes(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }

func removeDB(path string) {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
}

// ceilingRows reads the workload CSV (id,source,kind,time,lat,lon) for the
// SQLite ceilings.
func ceilingRows(path string) ([]sqlite.CeilingRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(bufio.NewReaderSize(f, 1<<20))
	var rows []sqlite.CeilingRow
	for line := 0; sc.Scan(); line++ {
		if line == 0 {
			continue // the header
		}
		p := strings.Split(sc.Text(), ",")
		if len(p) != 6 {
			return nil, fmt.Errorf("bench: %s line %d: want id,source,kind,time,lat,lon", path, line+1)
		}
		lat, err1 := strconv.ParseFloat(p[4], 64)
		lon, err2 := strconv.ParseFloat(p[5], 64)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("bench: %s line %d: %w", path, line+1, err)
		}
		rows = append(rows, sqlite.CeilingRow{ID: p[0], Source: p[1], Kind: p[2], Time: p[3], Lat: lat, Lon: lon})
	}
	return rows, sc.Err()
}

// benchLoad parses the workload on one goroutine and stores it on another, as
// the daemon does with a check and the store.
func benchLoad(ctx context.Context, engine *monitor.Engine, path string, batch int) (monitor.IngestResult, time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return monitor.IngestResult{}, 0, fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	opt := csv.Options{Header: true, Fields: csv.Fields{ID: "id", Time: "time", Lat: "lat", Lon: "lon", Kind: "kind"}}
	start := time.Now()
	now := time.Now()
	total, err := pipeline(ctx, func(ctx context.Context, emit monitor.EmitFunc) error {
		return csv.Stream(ctx, bufio.NewReaderSize(f, 1<<20), path, opt, batch, emit)
	}, func(ctx context.Context, b monitor.Batch) (monitor.IngestResult, error) {
		return engine.Ingest(ctx, "bench", b, now)
	})
	if err != nil {
		return total, 0, err
	}
	return total, time.Since(start), nil
}

// benchOpen opens path as the daemon does at start-up, answers Q once, and
// reports the time taken and the process's peak resident memory.
func benchOpen(ctx context.Context, path string, stdout io.Writer) error {
	start := time.Now()
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := monitor.NewEngine(ctx, st, zap.NewNop()); err != nil {
		return err
	}
	obs, err := st.Observations(ctx, monitor.Query{Area: geo.Circle{Center: benchCenter, RadiusMeters: 50000}, Since: benchSince, Until: benchUntil})
	if err != nil {
		return err
	}
	took := time.Since(start)
	n, err := st.CountObservations(ctx)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "start-up  %d stored: open + first Q (%d) in %.1f ms, peak RSS %s\n", n, len(obs), ms(took), peakRSS())
	return err
}

// peakRSS reads the process's peak resident set size from /proc (Linux).
func peakRSS() string {
	kb, ok := vmHWM("/proc/self/status")
	if !ok {
		return "unknown"
	}
	return fmt.Sprintf("%.1f MB", float64(kb)/1024)
}

// vmHWM reads the peak resident set size, in KiB, from a /proc/PID/status file.
func vmHWM(status string) (int, bool) {
	b, err := os.ReadFile(status)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return kb, err == nil
		}
	}
	return 0, false
}

// generateWorkload writes the shared 1M-observation workload as CSV into dir.
func generateWorkload(ctx context.Context, dir string, stderr io.Writer) (string, error) {
	gen := filepath.Join("..", "shared", "bench", "gen_workload.py")
	if _, err := os.Stat(gen); err != nil {
		return "", errors.New("bench: no --workload and ../shared/bench/gen_workload.py not found")
	}
	out := filepath.Join(dir, "workload.csv")
	fmt.Fprintln(stderr, "bench: generating the workload with", gen)
	cmd := exec.CommandContext(ctx, "python3", gen, "--format", "csv", "-o", out)
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("bench: %s: %w", gen, err)
	}
	return out, nil
}
