package rule_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/rule"
	"github.com/paulmach/orb"
)

// workload draws n observations as /work/shared/bench/gen_workload.py does (seed
// 42, though not its Python stream): 99 % uniform over lat 20–55, lon 100–150, 1 %
// Gaussian (sigma 0.5°) around Vladivostok, times uniform over the 30 days before
// the end of the workload.
func workload(n int) []monitor.Observation {
	r := rand.New(rand.NewPCG(42, 0))
	kinds := []string{"seismic", "fire", "flood", "storm", "vessel"}
	end := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	obs := make([]monitor.Observation, n)
	for i := range obs {
		var p orb.Point
		if r.Float64() < 0.01 {
			p = orb.Point{131.8855 + r.NormFloat64()*0.5, 43.1155 + r.NormFloat64()*0.5}
		} else {
			p = orb.Point{100 + r.Float64()*50, 20 + r.Float64()*35}
		}
		obs[i] = monitor.Observation{
			FID:    int64(i + 1),
			Source: "bench",
			ID:     fmt.Sprintf("obs-%07d", i),
			Kind:   kinds[r.IntN(len(kinds))],
			Time:   end.Add(-time.Duration(r.Int64N(30*24*3600)) * time.Second),
			Point:  p,
			Weight: 1,
		}
	}
	return obs
}

var benchEnd = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

// BenchmarkCluster100k is scikit-learn's reference run (DBSCAN, haversine with a
// ball tree, 100k points, eps 10 km, min 5: 0.41 s): a watch over the whole
// workload, so every point is clustered.
func BenchmarkCluster100k(b *testing.B) {
	obs := workload(100_000)
	c := mustCluster(b, rule.ClusterParams{EpsMeters: 10e3, MinPoints: 5, Window: 31 * 24 * time.Hour})
	w := &monitor.Watch{Name: "east-asia", Center: orb.Point{125, 37.5}, RadiusMeters: 4000e3}
	var found int
	for b.Loop() {
		found = len(c.Evaluate(benchEnd, w, obs))
	}
	reportPerOp(b, len(obs))
	b.ReportMetric(float64(found), "clusters")
}

// BenchmarkCount10k counts 10k observations near Vladivostok: the per-watch cost of
// a Count rule once the store has selected them.
func BenchmarkCount10k(b *testing.B) {
	obs := workload(10_000)
	c := mustCount(b, rule.CountParams{Min: 5, Window: 31 * 24 * time.Hour})
	w := &monitor.Watch{Name: "east-asia", Center: orb.Point{125, 37.5}, RadiusMeters: 4000e3}
	for b.Loop() {
		if len(c.Evaluate(benchEnd, w, obs)) != 1 {
			b.Fatal("no finding")
		}
	}
	reportPerOp(b, len(obs))
}

func reportPerOp(b *testing.B, points int) {
	perOp := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(perOp*1e3, "ms/op")
	b.ReportMetric(float64(points)/perOp, "points/s")
}
