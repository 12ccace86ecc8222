package postgis

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store/postgis/pgtest"
	"github.com/paulmach/orb"
)

// benchRows is the size of the ingest benchmarks' workload.
const benchRows = 100_000

// benchBatch is the rows per Ingest, as geowatch ingest commits them.
const benchBatch = 50_000

// workload is n observations shaped like ../shared/bench's reference
// workload: 99 % uniform over lat 20–55, lon 100–150, 1 % around
// Vladivostok, over the 30 days before 2026-11-27, in random time order.
func workload(n int) []monitor.Observation {
	rng := rand.New(rand.NewPCG(42, 42))
	end := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	obs := make([]monitor.Observation, n)
	for i := range obs {
		p := orb.Point{100 + rng.Float64()*50, 20 + rng.Float64()*35}
		if i%100 == 0 {
			p = orb.Point{131.8855 + rng.NormFloat64()*0.2, 43.1155 + rng.NormFloat64()*0.2}
		}
		obs[i] = monitor.Observation{
			ID: "ev" + strconv.Itoa(i), Time: end.Add(-time.Duration(rng.Int64N(int64(30 * 24 * time.Hour)))).Truncate(time.Millisecond),
			Point: p, Kind: "seismic", Title: fmt.Sprintf("M %.1f", rng.Float64()*6), Weight: 1,
			Properties: []byte(fmt.Sprintf(`{"mag":%.1f}`, rng.Float64()*6)),
		}
	}
	return obs
}

// BenchmarkIngest measures Ingest of benchRows new rows into a fresh
// database, benchBatch rows per transaction.
func BenchmarkIngest(b *testing.B) {
	rows := workload(benchRows)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		db := openURL(b, pgtest.URL(b))
		b.StartTimer()
		for i := 0; i < len(rows); i += benchBatch {
			res, err := db.Ingest(b.Context(), "bench", monitor.Batch{Observations: rows[i:min(i+benchBatch, len(rows))]}, time.Time{})
			if err != nil || res.Added != min(benchBatch, len(rows)-i) {
				b.Fatalf("ingest = %+v, %v", res, err)
			}
		}
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(benchRows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkPlainCopy is the yardstick of BenchmarkIngest: CopyReference, a
// plain COPY of the same rows, prepared as COPY text beforehand, into a
// table with observations' columns and indexes, benchBatch rows per
// transaction, with no staging and no conflict handling.
func BenchmarkPlainCopy(b *testing.B) {
	rows := workload(benchRows)
	ref := make([]ReferenceRow, len(rows))
	for i, o := range rows {
		ref[i] = ReferenceRow{ID: o.ID, Source: "bench", Kind: o.Kind, Time: o.Time, Lat: o.Point.Lat(), Lon: o.Point.Lon(), Properties: o.Properties}
	}
	// CopyReference times the COPYs alone, so the loop reports its figure,
	// not the database set-up around it.
	var took time.Duration
	for i := 0; i < b.N; i++ {
		db := openURL(b, pgtest.URL(b))
		d, err := db.CopyReference(b.Context(), ref, benchBatch)
		if err != nil {
			b.Fatal(err)
		}
		took += d
		db.Close()
	}
	b.ReportMetric(float64(benchRows*b.N)/took.Seconds(), "rows/s")
}

// BenchmarkQuery measures the reference question Q through Observations
// (observations within 50 km of Vladivostok on 2026-11-26) on a database of
// 1M rows shaped like the shared workload, and logs the server's own
// time for the bare ST_DWithin query and for the store's SQL.
func BenchmarkQuery(b *testing.B) {
	db := openURL(b, pgtest.URL(b))
	rows := workload(1_000_000)
	for i := 0; i < len(rows); i += benchBatch {
		if _, err := db.Ingest(b.Context(), "bench", monitor.Batch{Observations: rows[i : i+benchBatch]}, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := db.pool.Exec(b.Context(), `VACUUM ANALYZE observations`); err != nil {
		b.Fatal(err)
	}
	since := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	q := monitor.Query{Area: geo.Circle{Center: orb.Point{131.8855, 43.1155}, RadiusMeters: 50e3}, Since: since, Until: since.Add(24 * time.Hour)}
	var n int
	for b.Loop() {
		got, err := db.Observations(b.Context(), q)
		if err != nil {
			b.Fatal(err)
		}
		n = len(got)
	}
	b.ReportMetric(float64(n), "rows")
	for _, sql := range []string{
		`EXPLAIN (ANALYZE, TIMING OFF) SELECT count(*) FROM observations WHERE ST_DWithin(geom::geography, ST_MakePoint(131.8855, 43.1155)::geography, 50000, false) AND observed_at >= '2026-11-26' AND observed_at < '2026-11-27'`,
		`EXPLAIN (ANALYZE, TIMING OFF) SELECT count(*) FROM observations WHERE ST_DWithin(geom, ST_SetSRID(ST_MakePoint(131.8855, 43.1155), 4326), 0.7) AND ST_DistanceSphere(geom, ST_SetSRID(ST_MakePoint(131.8855, 43.1155), 4326)) <= 50000 AND observed_at >= '2026-11-26' AND observed_at < '2026-11-27'`,
	} {
		r, err := db.pool.Query(b.Context(), sql)
		if err != nil {
			b.Fatal(err)
		}
		for r.Next() {
			var line string
			r.Scan(&line) //nolint:errcheck
			if strings.Contains(line, "Scan") || strings.Contains(line, "Execution Time") {
				b.Log(strings.TrimSpace(line))
			}
		}
		r.Close()
	}
	bd := q.Area.Bounds()[0]
	r, err := db.pool.Query(b.Context(), `EXPLAIN (ANALYZE, TIMING OFF) `+selectBrief+` FROM observations AS o WHERE o.observed_at >= $1 AND o.observed_at < $2 AND (o.geom && ST_MakeEnvelope($3, $4, $5, $6, 4326)) ORDER BY o.observed_at, o.fid`,
		q.Since, q.Until, bd.Min.Lon(), bd.Min.Lat(), bd.Max.Lon(), bd.Max.Lat())
	if err != nil {
		b.Fatal(err)
	}
	for r.Next() {
		var line string
		r.Scan(&line) //nolint:errcheck
		if strings.Contains(line, "Scan") || strings.Contains(line, "Execution Time") {
			b.Log(strings.TrimSpace(line))
		}
	}
	r.Close()
}

// BenchmarkIngestUnchanged measures Ingest of benchRows records all stored
// already, unchanged (a feed fetched again, an import run twice): the
// staged path.
func BenchmarkIngestUnchanged(b *testing.B) {
	rows := workload(benchRows)
	db := openURL(b, pgtest.URL(b))
	for i := 0; i < len(rows); i += benchBatch {
		if _, err := db.Ingest(b.Context(), "bench", monitor.Batch{Observations: rows[i:min(i+benchBatch, len(rows))]}, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		for i := 0; i < len(rows); i += benchBatch {
			res, err := db.Ingest(b.Context(), "bench", monitor.Batch{Observations: rows[i:min(i+benchBatch, len(rows))]}, time.Time{})
			if err != nil || res.Unchanged != min(benchBatch, len(rows)-i) {
				b.Fatalf("ingest = %+v, %v", res, err)
			}
		}
	}
	b.ReportMetric(float64(benchRows*b.N)/b.Elapsed().Seconds(), "rows/s")
}
