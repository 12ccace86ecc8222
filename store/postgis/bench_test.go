package postgis

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
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

// BenchmarkPlainCopy is the yardstick of BenchmarkIngest: a plain COPY of
// the same rows, prepared as COPY text beforehand, straight into the same
// indexed observations table of a fresh database, benchBatch rows per
// transaction, with no staging and no conflict handling.
func BenchmarkPlainCopy(b *testing.B) {
	rows := workload(benchRows)
	var chunks [][]byte
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for i := 0; i < len(rows); i += benchBatch {
		var buf bytes.Buffer
		for _, o := range rows[i:min(i+benchBatch, len(rows))] {
			fmt.Fprintf(&buf, "%s\tbench\t%s\t%s\t%s\t%v\t%v\t%s\t%s\t%v\texact\t%s\n", ewkbHex(o.Point), o.ID,
				o.Time.Format(time.RFC3339Nano), now, o.Point.Lat(), o.Point.Lon(), o.Kind, o.Title, o.Weight, o.Properties)
		}
		chunks = append(chunks, buf.Bytes())
	}
	for b.Loop() {
		b.StopTimer()
		db := openURL(b, pgtest.URL(b))
		conn, err := db.pool.Acquire(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for _, c := range chunks {
			tx, err := conn.Begin(b.Context())
			if err != nil {
				b.Fatal(err)
			}
			if _, err := conn.Conn().PgConn().CopyFrom(b.Context(), bytes.NewReader(c),
				`COPY observations (geom, source, ext_id, observed_at, ingested_at, lat, lon, kind, title, weight, precision, properties) FROM STDIN`); err != nil {
				b.Fatal(err)
			}
			if err := tx.Commit(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		conn.Release()
		db.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(benchRows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// ewkbHex is p as hex EWKB with SRID 4326, as COPY text takes a geometry.
func ewkbHex(p orb.Point) string {
	var b [25]byte
	b[0] = 1                                         // little endian
	binary.LittleEndian.PutUint32(b[1:], 0x20000001) // point with SRID
	binary.LittleEndian.PutUint32(b[5:], 4326)       // SRID
	binary.LittleEndian.PutUint64(b[9:], math.Float64bits(p.Lon()))
	binary.LittleEndian.PutUint64(b[17:], math.Float64bits(p.Lat()))
	return hex.EncodeToString(b[:])
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
