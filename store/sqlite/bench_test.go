package sqlite

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/geowatch/geowatch/store"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
)

// The shared reference workload (../shared/bench): 1M observations over 30 days,
// and question Q with its known answer.
const generator = "../../../shared/bench/gen_workload.py"

var (
	qArea  = geo.Circle{Center: orb.Point{131.8855, 43.1155}, RadiusMeters: 50e3}
	qSince = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	qUntil = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
)

const qAnswer = 146

var workload struct {
	once sync.Once
	obs  []monitor.Observation
	key  string // hash of the generator
	err  error
}

// benchWorkload generates the workload once (cached in os.TempDir by generator
// hash) and parses it outside any timer.
func benchWorkload(b *testing.B) ([]monitor.Observation, string) {
	b.Helper()
	src, err := os.ReadFile(generator)
	if err != nil {
		b.Skipf("shared benchmark workload not found (%v): run from a checkout next to ../shared", err)
	}
	workload.once.Do(func() {
		sum := sha256.Sum256(src)
		workload.key = hex.EncodeToString(sum[:6])
		path := filepath.Join(os.TempDir(), "geowatch-bench-"+workload.key+".ndjson")
		if _, err := os.Stat(path); err != nil {
			tmp := path + ".tmp"
			if out, err := exec.Command("python3", generator, "-o", tmp).CombinedOutput(); err != nil {
				workload.err = fmt.Errorf("gen_workload.py: %v: %s", err, out)
				return
			}
			if workload.err = os.Rename(tmp, path); workload.err != nil {
				return
			}
		}
		workload.obs, workload.err = readWorkload(path)
	})
	if workload.err != nil {
		b.Fatal(workload.err)
	}
	return workload.obs, workload.key
}

func readWorkload(path string) ([]monitor.Observation, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var obs []monitor.Observation
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r struct {
			ID, Kind string
			Time     time.Time
			Lat, Lon float64
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, err
		}
		obs = append(obs, monitor.Observation{ID: r.ID, Kind: r.Kind, Time: r.Time, Point: orb.Point{r.Lon, r.Lat}})
	}
	return obs, sc.Err()
}

// schemaKey hashes the migrations, so a cached benchmark database is rebuilt when
// the schema changes.
func schemaKey() string {
	h := sha256.New()
	fs.WalkDir(migrations, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			body, _ := migrations.ReadFile(p)
			h.Write([]byte(p))
			h.Write(body)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)[:6])
}

// benchDB returns the path of the workload stored in a database, built once and
// cached in os.TempDir keyed on the schema and the generator.
func benchDB(b *testing.B) string {
	b.Helper()
	obs, key := benchWorkload(b)
	path := filepath.Join(os.TempDir(), "geowatch-bench-"+schemaKey()+"-"+key+".gpkg")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	tmp := path + ".tmp"
	for _, p := range []string{tmp, tmp + "-wal", tmp + "-shm"} {
		os.Remove(p)
	}
	db, err := Open(context.Background(), tmp)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < len(obs); i += 50000 {
		if _, err := db.Ingest(context.Background(), "bench", monitor.Batch{Observations: obs[i:min(i+50000, len(obs))]}, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := db.w.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkIngest stores the workload in batches into a database growing to 1M
// rows, every index on: obs/s is the sustained rate, commits included. Use
// -benchtime=100x (10k) or 20x (50k) to store the whole workload once.
func BenchmarkIngest(b *testing.B) {
	obs, _ := benchWorkload(b)
	for _, size := range []int{10000, 50000} {
		b.Run("batch="+strconv.Itoa(size), func(b *testing.B) {
			var db *DB
			next, added := len(obs), 0
			defer func() { db.Close() }()
			for b.Loop() {
				if next+size > len(obs) { // out of data: start over on a new file
					b.StopTimer()
					if db != nil {
						db.Close()
					}
					var err error
					if db, err = Open(b.Context(), filepath.Join(b.TempDir(), "ingest.gpkg")); err != nil {
						b.Fatal(err)
					}
					next = 0
					b.StartTimer()
				}
				res, err := db.Ingest(b.Context(), "bench", monitor.Batch{Observations: obs[next : next+size]}, time.Time{})
				if err != nil {
					b.Fatal(err)
				}
				next += size
				added += res.Added
			}
			b.ReportMetric(float64(added)/b.Elapsed().Seconds(), "obs/s")
		})
	}
}

// BenchmarkQueryRadiusWindow asks question Q of the 1M-row database and reports
// the median latency besides the mean (ns/op).
func BenchmarkQueryRadiusWindow(b *testing.B) {
	path := benchDB(b)
	db, err := Open(b.Context(), path, store.ReadOnly())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	q := monitor.Query{Area: qArea, Since: qSince, Until: qUntil}
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		got, err := db.Observations(b.Context(), q)
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != qAnswer {
			b.Fatalf("Q = %d observations, want %d", len(got), qAnswer)
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2])/1e6, "median-ms")
}

// BenchmarkOpen opens the 1M-row database (migrations checked, statements
// prepared, Q answered once) and reports the time and the memory it takes;
// ns/op also counts Close, which runs PRAGMA optimize and checkpoints.
func BenchmarkOpen(b *testing.B) {
	path := benchDB(b)
	var rss, heap float64
	var opening time.Duration
	for b.Loop() {
		start := time.Now()
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		r0 := vmRSS(b)
		db, err := Open(b.Context(), path)
		if err != nil {
			b.Fatal(err)
		}
		if got, err := db.Observations(b.Context(), monitor.Query{Area: qArea, Since: qSince, Until: qUntil}); err != nil || len(got) != qAnswer {
			b.Fatalf("Q after open = %d, %v", len(got), err)
		}
		opening += time.Since(start)
		runtime.ReadMemStats(&m1)
		rss = max(rss, float64(vmRSS(b)-r0)/(1<<20))
		heap = max(heap, float64(m1.HeapAlloc-min(m0.HeapAlloc, m1.HeapAlloc))/(1<<20))
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(opening.Microseconds())/1e3/float64(b.N), "ms/open")
	b.ReportMetric(rss, "max-RSS-delta-MB")
	b.ReportMetric(heap, "max-heap-delta-MB")
	b.ReportMetric(float64(vmRSS(b))/(1<<20), "RSS-MB")
}

// vmRSS returns the process's resident set size in bytes (Linux).
func vmRSS(b *testing.B) int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkQueryExport streams the whole 1M-row database through Query, as
// geowatch export does, and reports the rate and the most live heap it held
// beyond what it started with (sampled every 100k rows, which costs a GC each).
func BenchmarkQueryExport(b *testing.B) {
	path := benchDB(b)
	db, err := Open(b.Context(), path, store.ReadOnly())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var rows int
	var peak uint64
	for b.Loop() {
		runtime.GC()
		var m0, m runtime.MemStats
		runtime.ReadMemStats(&m0)
		n := 0
		err := db.Query(b.Context(), store.QueryFilter{}, func(monitor.Observation) error {
			if n++; n%100000 == 0 { // the live heap: garbage awaiting GC is no retention
				runtime.GC()
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapAlloc-min(m.HeapAlloc, m0.HeapAlloc))
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		rows += n
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "obs/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-delta-MB")
}
