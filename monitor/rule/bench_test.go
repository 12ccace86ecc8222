package rule_test

import (
	"fmt"
	"math"
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
// ball tree, eps 10 km on R = 6371.0088 km, min 5: 0.41 s) on the same data, the
// first 100k rows of the shared workload: a watch over the whole workload, so
// every point is clustered. TestDBSCANMatchesScikitLearn checks the clustering
// itself; the rule reports the clusters of at least 5 whose centroid is in the
// watch.
func BenchmarkCluster100k(b *testing.B) {
	obs := rule.SharedWorkload(b)
	c := mustCluster(b, rule.ClusterParams{EpsMeters: rule.SklearnEpsMeters, MinPoints: 5, Window: 31 * 24 * time.Hour})
	w := &monitor.Watch{Name: "east-asia", Center: orb.Point{125, 37.5}, RadiusMeters: 4000e3}
	var found int
	for b.Loop() {
		found = len(eval(c, benchEnd, w, obs))
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
		if len(eval(c, benchEnd, w, obs)) != 1 {
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

// scanWorkload is n cases uniform over a disk of radius 200 km around
// Vladivostok and over the 30 days before benchEnd.
func scanWorkload(n int) []monitor.Observation {
	r := rand.New(rand.NewPCG(42, 1))
	obs := make([]monitor.Observation, n)
	for i := range obs {
		// Uniform in the disk: radius ∝ √u; 1° of latitude ≈ 111.2 km.
		d, b := 200e3*math.Sqrt(r.Float64()), 2*math.Pi*r.Float64()
		p := orb.Point{131.8855 + d*math.Sin(b)/111.2e3/math.Cos(43.1155*math.Pi/180), 43.1155 + d*math.Cos(b)/111.2e3}
		obs[i] = monitor.Observation{FID: int64(i + 1), ID: fmt.Sprintf("obs-%d", i), Kind: "fire", Point: p, Weight: 1,
			Time: benchEnd.Add(-time.Duration(r.Int64N(int64(30*24*time.Hour))) - 1)}
	}
	return obs
}

// BenchmarkScan runs the space-time permutation scan with all 999 replicates on
// 5,000 cases (Recurrence = EvalEvery fires at any p, so none are skipped): 30
// days, cylinders up to 7 days and max_radius, the watch covering the study area.
func BenchmarkScan(b *testing.B) {
	obs := scanWorkload(5000)
	w := &monitor.Watch{Name: "vladivostok", Center: orb.Point{131.8855, 43.1155}, RadiusMeters: 201e3}
	for _, maxR := range []float64{10e3, 20e3, 50e3} {
		b.Run(fmt.Sprintf("max_radius=%gkm", maxR/1e3), func(b *testing.B) {
			s, err := rule.NewScan(rule.ScanParams{Period: 30 * 24 * time.Hour, MaxRadiusMeters: maxR, MaxWindow: 7 * 24 * time.Hour,
				EvalEvery: 24 * time.Hour, Recurrence: 24 * time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			var p float64
			for b.Loop() {
				f := eval(s, benchEnd, w, obs)
				if len(f) != 1 {
					b.Fatal("no finding")
				}
				p = f[0].Stats["p"]
			}
			perOp := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(perOp*1e3, "ms/op")
			b.ReportMetric(float64(s.Params().Replicates)/perOp, "replicates/s")
			b.ReportMetric(p, "p")
		})
	}
}

// BenchmarkSurge100k evaluates a surge over 100k observations in the watch.
func BenchmarkSurge100k(b *testing.B) {
	obs := workload(100_000)
	s, err := rule.NewSurge(rule.SurgeParams{Window: 6 * time.Hour, Baseline: 14 * 24 * time.Hour, Alpha: 0.01, Min: 5})
	if err != nil {
		b.Fatal(err)
	}
	w := &monitor.Watch{Name: "east-asia", Center: orb.Point{125, 37.5}, RadiusMeters: 4000e3}
	for b.Loop() {
		eval(s, benchEnd, w, obs)
	}
	reportPerOp(b, len(obs))
}

// BenchmarkSTCluster100k is BenchmarkCluster100k with time_eps 1 day: ST-DBSCAN.
func BenchmarkSTCluster100k(b *testing.B) {
	obs := rule.SharedWorkload(b)
	c := mustCluster(b, rule.ClusterParams{EpsMeters: rule.SklearnEpsMeters, MinPoints: 5, Window: 31 * 24 * time.Hour, TimeEps: 24 * time.Hour})
	w := &monitor.Watch{Name: "east-asia", Center: orb.Point{125, 37.5}, RadiusMeters: 4000e3}
	var found int
	for b.Loop() {
		found = len(eval(c, benchEnd, w, obs))
	}
	reportPerOp(b, len(obs))
	b.ReportMetric(float64(found), "clusters")
}
