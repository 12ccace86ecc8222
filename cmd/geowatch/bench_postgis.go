package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/postgis"
	"github.com/geowatch/geowatch/store/sqlite"
	"go.uber.org/zap"
)

// The bare questions a psql user would ask for Q, timed by the server
// itself: the textbook geodesic ST_DWithin on geography (which no index on
// a geometry column serves), and the form that uses the GiST index (a
// degree box, then the sphere distance).
const (
	bareQGeography = `SELECT count(*) FROM observations
		WHERE ST_DWithin(geom::geography, ST_MakePoint($1, $2)::geography, $3)
		  AND observed_at >= $4 AND observed_at < $5`
	bareQIndexed = `SELECT count(*) FROM observations
		WHERE ST_DWithin(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326), 0.7)
		  AND ST_DistanceSphere(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326)) <= $3
		  AND observed_at >= $4 AND observed_at < $5`
)

// benchPostgres is `geowatch bench --db postgres://…`: in rounds, a plain
// COPY of the workload's rows into a table like observations (the
// yardstick) and geowatch's load of the same rows through the engine into
// the database; then Q through the store against the bare query's server
// time, and one round of 1,000 watches against the same round on SQLite
// with the same rows. The database should be a scratch one: each round
// empties it.
func benchPostgres(ctx context.Context, url, dir, workload string, batch, rounds, queries int, stdout io.Writer) error {
	rows, err := ceilingRows(workload)
	if err != nil {
		return err
	}
	ref := make([]postgis.ReferenceRow, len(rows))
	for i, r := range rows {
		t, err := time.Parse(time.RFC3339, r.Time)
		if err != nil {
			return fmt.Errorf("bench: row %s: time %q: %w", r.ID, r.Time, err)
		}
		lat, lon := strconv.FormatFloat(r.Lat, 'f', -1, 64), strconv.FormatFloat(r.Lon, 'f', -1, 64)
		// The properties geowatch's CSV source keeps for the row: its columns.
		props := fmt.Sprintf(`{"id":%q,"source":%q,"kind":%q,"time":%q,"lat":%q,"lon":%q}`, r.ID, r.Source, r.Kind, r.Time, lat, lon)
		ref[i] = postgis.ReferenceRow{ID: r.ID, Source: "bench", Kind: r.Kind, Time: t, Lat: r.Lat, Lon: r.Lon, Properties: []byte(props)}
	}
	db, err := postgis.Open(ctx, url)
	if err != nil {
		return err
	}
	defer db.Close()
	engine, err := monitor.NewEngine(ctx, db, zap.NewNop())
	if err != nil {
		return err
	}
	engine.SetRecentLimit(0) // the store's own answers, against SQLite's

	var ratios []float64
	for r := range rounds {
		if err := db.Empty(ctx); err != nil {
			return err
		}
		took, err := db.CopyReference(ctx, ref, batch)
		if err != nil {
			return err
		}
		copyRate := float64(len(ref)) / took.Seconds()
		res, took, err := benchLoad(ctx, engine, workload, batch)
		if err != nil {
			return err
		}
		rate := float64(res.Added) / took.Seconds()
		ratios = append(ratios, rate/copyRate)
		fmt.Fprintf(stdout, "round %d   load %d observations into PostgreSQL in %.2f s: %.0f obs/s (parsing included, %d-row transactions); "+
			"plain COPY of the same rows into the same indexed table %.0f rows/s\n", r+1, res.Added, took.Seconds(), rate, batch, copyRate)
	}
	fmt.Fprintf(stdout, "load      PostgreSQL: %.2f× a plain COPY (median of %d rounds)\n", median(ratios), rounds)
	pgSize, err := db.ObservationsSize(ctx)
	if err != nil {
		return err
	}
	if err := db.Analyze(ctx); err != nil {
		return err
	}

	q := monitor.Query{Area: geo.Circle{Center: benchCenter, RadiusMeters: 50000}, Since: benchSince, Until: benchUntil}
	lat := make([]time.Duration, 0, queries)
	var answer int
	for range queries {
		start := time.Now()
		obs, err := db.Observations(ctx, q)
		lat = append(lat, time.Since(start))
		if err != nil {
			return err
		}
		answer = len(obs)
	}
	slices.Sort(lat)
	ours := lat[len(lat)/2]
	args := []any{benchCenter.Lon(), benchCenter.Lat(), 50000.0, benchSince, benchUntil}
	geog, err := db.ServerTime(ctx, bareQGeography, 5, args...)
	if err != nil {
		return err
	}
	indexed, err := db.ServerTime(ctx, bareQIndexed, max(queries/10, 5), args...)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "query Q   PostgreSQL: %d observations; geowatch median %.3f ms (client side) over %d runs; "+
		"bare ST_DWithin in the server: %.3f ms on geography (no index serves it), %.3f ms through the GiST index (degree box + ST_DistanceSphere)\n",
		answer, ms(ours), len(lat), ms(geog), ms(indexed))
	fmt.Fprintf(stdout, "query Q   PostgreSQL: geowatch %.2f× the indexed bare query's server time, %.3f× the geography one's (lower is faster)\n",
		ours.Seconds()/indexed.Seconds(), ours.Seconds()/geog.Seconds())

	ws, err := benchWatches(1000)
	if err != nil {
		return err
	}
	pgRound, err := benchRound(ctx, engine, ws)
	if err != nil {
		return err
	}
	litePath := filepath.Join(dir, "round.gpkg")
	liteRound, err := benchSQLiteRound(ctx, litePath, workload, batch, ws)
	if err != nil {
		return err
	}
	liteSize := fileBytes(litePath)
	fmt.Fprintf(stdout, "disk      %d observations: PostgreSQL's table and indexes %.1f MB (%.0f B a row); the SQLite file of the same rows "+
		"without the R*Tree %.1f MB: %.2f× PostgreSQL's\n", len(rows), mb(pgSize), float64(pgSize)/float64(len(rows)),
		mb(liteSize), float64(liteSize)/float64(pgSize))
	fmt.Fprintf(stdout, "round     1000 watches (count + cluster, 50 km) from the store: PostgreSQL %.1f ms, SQLite %.1f ms on the same rows: %.2f× SQLite's\n",
		ms(pgRound.took), ms(liteRound.took), pgRound.took.Seconds()/liteRound.took.Seconds())
	return nil
}

// benchSQLiteRound loads the workload into a new SQLite file at path
// (without the R*Tree, which evaluation never reads) and times one round
// of ws there, from the store (nothing kept in memory).
func benchSQLiteRound(ctx context.Context, path, workload string, batch int, ws []*monitor.Watch) (roundStats, error) {
	st, err := sqlite.Open(ctx, path, store.WithSpatialIndex(store.SpatialIndexOff))
	if err != nil {
		return roundStats{}, err
	}
	engine, err := monitor.NewEngine(ctx, st, zap.NewNop())
	if err != nil {
		st.Close()
		return roundStats{}, err
	}
	engine.SetRecentLimit(0)
	var stats roundStats
	if _, _, err = benchLoad(ctx, engine, workload, batch); err == nil {
		stats, err = benchRound(ctx, engine, ws)
	}
	if cerr := st.Close(); err == nil { // closing checkpoints the WAL into the file
		err = cerr
	}
	return stats, err
}
