package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/source/push"
	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/sqlite"
	"github.com/paulmach/orb"
)

// Soak load: 200 records a second in pushes of 20, one push every 100 ms.
const (
	soakBatch = 20
	soakEvery = 100 * time.Millisecond
)

// TestSoak runs the real binary under a steady push load for
// GEOWATCH_SOAK_DURATION (default 10m) while a watch evaluates every 10 s and
// a read-only connection of this process queries the file every 100 ms
// (GEOWATCH_SOAK_READ_EVERY; 0 for no reader). It
// reports throughput, push acknowledgement latency, the daemon's RSS and the
// WAL's size every 10 s, and fails on any failed push or query, any error in
// the daemon's log, an RSS still growing (the last third's mean more than 20%
// over the middle third's) or a WAL past 32 MiB (the store truncates it at 16).
//
// It runs only with GEOWATCH_SOAK=1, and is not part of CI:
//
//	GEOWATCH_SOAK=1 go test -run TestSoak -timeout 30m -v ./cmd/geowatch
func TestSoak(t *testing.T) {
	if os.Getenv("GEOWATCH_SOAK") == "" {
		t.Skip("set GEOWATCH_SOAK=1 (and GEOWATCH_SOAK_DURATION, default 10m) to run the soak test")
	}
	duration := 10 * time.Minute
	if s := os.Getenv("GEOWATCH_SOAK_DURATION"); s != "" {
		var err error
		if duration, err = time.ParseDuration(s); err != nil || duration < 30*time.Second {
			t.Fatalf("GEOWATCH_SOAK_DURATION=%q: want a duration of 30s or more (%v)", s, err)
		}
	}
	readEvery := 100 * time.Millisecond
	if s := os.Getenv("GEOWATCH_SOAK_READ_EVERY"); s != "" {
		var err error
		if readEvery, err = time.ParseDuration(s); err != nil || readEvery < 0 {
			t.Fatalf("GEOWATCH_SOAK_READ_EVERY=%q: want a duration, 0 for no reader (%v)", s, err)
		}
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "geowatch.gpkg")
	addr := freeAddr(t)
	cfgPath := filepath.Join(dir, "geowatch.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(`
database: %s
http:
  listen: %s
  rate: 0
sources:
  - name: pushed
    type: push
    kind: report
watches:
  - name: crossing
    lat: %v
    lon: %v
    radius: 20km
    schedule: "@every 10s"
    rules:
      - name: busy
        type: count
        min: 100
        window: 10m
      - name: gathering
        type: cluster
        eps: 2km
        min_points: 20
        window: 10m
subscribers:
  - {name: journal, sink: log}
  - {name: desk, sink: file, path: %s}
`, dbPath, addr, crashLat, crashLon, filepath.Join(dir, "alerts.jsonl")))
	logPath := filepath.Join(dir, "daemon.log")
	p := startBinary(t, bin, cfgPath, logPath)
	if err := p.waitReady(addr, 30*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, tail(logPath, 20))
	}
	t.Logf("soak: %v at %d records/s (pushes of %d every %v), pid %d", duration, int(soakBatch*time.Second/soakEvery), soakBatch, soakEvery, p.cmd.Process.Pid)

	ctx, cancel := context.WithTimeout(t.Context(), duration)
	defer cancel()
	var wg sync.WaitGroup
	var pushes soakPusher
	wg.Go(func() { pushes.run(ctx, "http://"+addr+push.Path) })
	var reads soakReader
	if readEvery > 0 {
		wg.Go(func() { reads.run(ctx, dbPath, readEvery) })
	}

	var samples []soakSample
	start := time.Now()
	tick := time.NewTicker(10 * time.Second)
	sample := func() {
		s := soakSample{at: time.Since(start), wal: fileSize(dbPath + "-wal"), db: fileSize(dbPath)}
		s.rss, s.anon = procRSS(p.cmd.Process.Pid)
		s.sent, _ = pushes.snapshot()
		samples = append(samples, s)
		t.Logf("%6v  rss %6.1f MiB (anon %6.1f)  wal %6.1f MiB  db %7.1f MiB  records %7d", s.at.Round(time.Second),
			mib(s.rss), mib(s.anon), mib(s.wal), mib(s.db), s.sent)
	}
	sample()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-p.exited:
			t.Fatalf("the daemon exited: %v\n%s", p.err, tail(logPath, 20))
		case <-tick.C:
			sample()
		}
	}
	tick.Stop()
	wg.Wait()
	elapsed := time.Since(start)
	if err := p.stop(40 * time.Second); err != nil {
		t.Errorf("clean stop: %v\n%s", err, tail(logPath, 20))
	}

	sent, lat := pushes.snapshot()
	t.Logf("pushes: %d records acknowledged in %v: %.1f records/s; ack latency p50 %v, p99 %v, max %v; %d failed",
		sent, elapsed.Round(time.Second), float64(sent)/elapsed.Seconds(),
		pct(lat, 50), pct(lat, 99), pct(lat, 100), pushes.failed)
	t.Logf("reads: %d queries (%d rows), latency p50 %v, p99 %v; %d failed",
		len(reads.lat), reads.rows, pct(reads.lat, 50), pct(reads.lat, 99), reads.failed)
	if pushes.failed > 0 {
		t.Errorf("%d pushes failed, such as: %s", pushes.failed, pushes.firstErr)
	}
	if reads.failed > 0 {
		t.Errorf("%d reads failed, such as: %s", reads.failed, reads.firstErr)
	}
	if want := 0.9 * float64(soakBatch*time.Second/soakEvery); float64(sent)/elapsed.Seconds() < want {
		t.Errorf("throughput %.1f records/s, want at least %.0f", float64(sent)/elapsed.Seconds(), want)
	}
	if errLines, panics := logProblems(t, logPath, filepath.Join(dir, "daemon.stderr")); len(errLines) > 0 || panics != "" {
		t.Errorf("the daemon logged errors: %v %s", errLines, panics)
	}

	// Memory is flat when the last third of the run averages within 20% of the
	// middle third (the first third is warm-up: caches filling). The check is on
	// anonymous memory (RssAnon: heap, stacks, SQLite's page caches): the rest of
	// RSS is the database file mapped in (mmap_size), which grows with the file
	// and is page cache the kernel can reclaim, not memory the daemon holds.
	third := len(samples) / 3
	if third >= 1 {
		mid, last := meanAnon(samples[third:2*third]), meanAnon(samples[2*third:])
		t.Logf("anonymous memory: middle third mean %.1f MiB, last third mean %.1f MiB (%+.1f%%); rss: %.1f MiB, %.1f MiB", mib(mid), mib(last), 100*(last-mid)/mid,
			mib(meanRSS(samples[third:2*third])), mib(meanRSS(samples[2*third:])))
		if last > 1.2*mid {
			t.Errorf("memory grows: last third mean %.1f MiB anonymous > 1.2 × middle third mean %.1f MiB", mib(last), mib(mid))
		}
		// The store truncates the WAL once it passes 16 MiB (readers' overlapping
		// snapshots can starve the checkpoints that would otherwise restart it),
		// so it must stay within twice that whatever the readers do.
		early, late := maxWAL(samples[:2*third]), maxWAL(samples[2*third:])
		t.Logf("wal: largest %.1f MiB in the first two thirds, %.1f MiB in the last", mib(early), mib(late))
		if m := max(early, late); m > 32<<20 {
			t.Errorf("WAL reached %.1f MiB, past the 32 MiB bound", mib(m))
		}
	}

	db, err := sqlite.Open(t.Context(), dbPath, store.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n, err := db.CountObservations(t.Context()); err != nil || n != int64(sent) {
		t.Errorf("CountObservations = %d, %v; want %d acknowledged", n, err, sent)
	}
}

// soakSample is one 10-second reading of the daemon.
type soakSample struct {
	at           time.Duration
	rss, wal, db float64 // bytes
	anon         float64 // bytes of RSS not backed by a file: the heap, SQLite's page caches
	sent         int     // records acknowledged so far
}

// soakPusher pushes soakBatch records every soakEvery, one request at a
// time, and records how long each acknowledgement took.
type soakPusher struct {
	mu       sync.Mutex
	sent     int
	lat      []time.Duration
	failed   int
	firstErr string
}

func (s *soakPusher) run(ctx context.Context, url string) {
	client := &http.Client{Timeout: 30 * time.Second}
	rng := rand.New(rand.NewPCG(1, 2))
	tick := time.NewTicker(soakEvery)
	defer tick.Stop()
	for seq := 0; ; {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		feats := make([]string, soakBatch)
		now := time.Now()
		for i := range feats {
			lon, lat := crashLon+(rng.Float64()-0.5)*2, crashLat+(rng.Float64()-0.5)*1.5
			feats[i] = reportFeature(fmt.Sprintf("s-%d", seq), lon, lat, now.Add(-time.Duration(rng.Int64N(int64(time.Minute)))))
			seq++
		}
		body := `{"type":"FeatureCollection","features":[` + strings.Join(feats, ",") + `]}`
		t0 := time.Now()
		err := soakPost(context.WithoutCancel(ctx), client, url, body)
		d := time.Since(t0)
		s.mu.Lock()
		if err != nil {
			s.failed++
			if s.firstErr == "" {
				s.firstErr = err.Error()
			}
		} else {
			s.sent += soakBatch
			s.lat = append(s.lat, d)
		}
		s.mu.Unlock()
	}
}

func soakPost(ctx context.Context, client *http.Client, url, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var r push.Response
	if resp.StatusCode != http.StatusOK || json.Unmarshal(data, &r) != nil || r.Added != soakBatch {
		return fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(data))
	}
	return nil
}

func (s *soakPusher) snapshot() (int, []time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent, slices.Clone(s.lat)
}

// soakReader queries the file every 100 ms on its own read-only connection,
// as an analyst's tool would: the watch's area over the last 10 minutes.
type soakReader struct {
	lat      []time.Duration
	rows     int
	failed   int
	firstErr string
}

func (r *soakReader) run(ctx context.Context, dbPath string, every time.Duration) {
	db, err := sqlite.Open(ctx, dbPath, store.ReadOnly())
	if err != nil {
		r.failed, r.firstErr = 1, err.Error()
		return
	}
	defer db.Close()
	area := geo.Circle{Center: orb.Point{crashLon, crashLat}, RadiusMeters: 20e3}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		t0 := time.Now()
		obs, err := db.Observations(ctx, monitor.Query{Area: area, Since: now.Add(-10 * time.Minute), Until: now})
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			r.failed++
			if r.firstErr == "" {
				r.firstErr = err.Error()
			}
			continue
		}
		r.lat = append(r.lat, time.Since(t0))
		r.rows += len(obs)
	}
}

// procRSS reads a process's resident set size (VmRSS) and its anonymous part
// (RssAnon) in bytes from /proc. The rest is file-backed: the database's
// pages mapped by SQLite's mmap, which grow with the file while they are read.
func procRSS(pid int) (rss, anon float64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 64)
		switch key {
		case "VmRSS":
			rss = kb * 1024
		case "RssAnon":
			anon = kb * 1024
		}
	}
	return rss, anon
}

func fileSize(path string) float64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return float64(fi.Size())
}

func mib(b float64) float64 { return b / (1 << 20) }

// pct returns the p-th percentile of ds (100: the largest).
func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)].Round(10 * time.Microsecond)
}

func meanRSS(ss []soakSample) float64 {
	var sum float64
	for _, s := range ss {
		sum += s.rss
	}
	return sum / float64(len(ss))
}

func meanAnon(ss []soakSample) float64 {
	var sum float64
	for _, s := range ss {
		sum += s.anon
	}
	return sum / float64(len(ss))
}

func maxWAL(ss []soakSample) float64 {
	var m float64
	for _, s := range ss {
		m = max(m, s.wal)
	}
	return m
}
