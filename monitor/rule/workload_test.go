package rule

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
)

// generator writes the shared reference workload (../shared/bench from the repo
// root): 1M observations over the 30 days before 2026-11-27.
const generator = "../../../shared/bench/gen_workload.py"

// SklearnEpsMeters is scikit-learn's reference eps, 10 km on its Earth radius of
// 6371.0088 km, as metres on geo.EarthRadiusMeters: the same angle, so the same
// neighbourhoods.
const SklearnEpsMeters = 10e3 / 6371.0088e3 * geo.EarthRadiusMeters

var shared struct {
	once sync.Once
	obs  []monitor.Observation // the first sharedRows rows
	err  error
}

// sharedRows is how many rows of the workload the rule tests read: scikit-learn's
// reference run clusters the first 100k.
const sharedRows = 100_000

// SharedWorkload returns the first 100k rows of the shared workload in file order,
// FIDs from 1. The CSV is generated once and cached in os.TempDir by the
// generator's hash; the test is skipped when ../shared is absent.
func SharedWorkload(tb testing.TB) []monitor.Observation {
	tb.Helper()
	src, err := os.ReadFile(generator)
	if err != nil {
		tb.Skipf("shared benchmark workload not found (%v): run from a checkout next to ../shared", err)
	}
	shared.once.Do(func() {
		sum := sha256.Sum256(src)
		path := filepath.Join(os.TempDir(), "geowatch-bench-"+hex.EncodeToString(sum[:6])+".csv")
		if _, err := os.Stat(path); err != nil {
			tmp := path + ".tmp"
			if out, err := exec.Command("python3", generator, "--format", "csv", "-o", tmp).CombinedOutput(); err != nil {
				shared.err = fmt.Errorf("gen_workload.py: %v: %s", err, out)
				return
			}
			if shared.err = os.Rename(tmp, path); shared.err != nil {
				return
			}
		}
		shared.obs, shared.err = readCSV(path, sharedRows)
	})
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	return shared.obs
}

// readCSV reads the first n rows of the workload's CSV (id,source,kind,time,lat,lon).
func readCSV(path string, n int) ([]monitor.Observation, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.ReuseRecord = true
	if _, err := r.Read(); err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	obs := make([]monitor.Observation, 0, n)
	for len(obs) < n {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		line, _ := r.FieldPos(0)
		t, err := time.Parse(time.RFC3339, rec[3])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: time: %w", path, line, err)
		}
		lat, err := strconv.ParseFloat(rec[4], 64)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: lat: %w", path, line, err)
		}
		lon, err := strconv.ParseFloat(rec[5], 64)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: lon: %w", path, line, err)
		}
		obs = append(obs, monitor.Observation{FID: int64(len(obs) + 1), ID: rec[0], Source: rec[1], Kind: rec[2],
			Time: t, Point: orb.Point{lon, lat}, Weight: 1})
	}
	return obs, nil
}

// TestDBSCANMatchesScikitLearn clusters the first 100k rows of the shared workload
// in file order, as scikit-learn's DBSCAN(eps=10 km / 6371.0088 km, min_samples=5,
// metric="haversine", algorithm="ball_tree") does, and compares with its result:
// 3,937 clusters and 71,825 noise points.
func TestDBSCANMatchesScikitLearn(t *testing.T) {
	obs := SharedWorkload(t)
	pts := make([]orb.Point, len(obs))
	for i, o := range obs {
		pts[i] = o.Point
	}
	labels, n := dbscan(pts, 125, SklearnEpsMeters, 5)
	noisy := 0
	for _, l := range labels {
		if l == 0 {
			noisy++
		}
	}
	if n != 3937 || noisy != 71825 {
		t.Errorf("DBSCAN on %d rows: %d clusters, %d noise; scikit-learn: 3937 clusters, 71825 noise", len(pts), n, noisy)
	}
}
