package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/geowatch/geowatch/monitor"
)

// ObservationsByFID returns the stored observations among fids, with every
// field, in time order (then fid): an alert's contributing observations. Fids
// no longer stored (pruned) are left out.
func (db *DB) ObservationsByFID(ctx context.Context, fids []int64) ([]monitor.Observation, error) {
	if len(fids) == 0 {
		return nil, nil
	}
	j, err := json.Marshal(fids)
	if err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT o.fid, o.source, o.ext_id, +o.observed_at, o.lon, o.lat, o.kind, o.weight, o.precision`+
		queryDetail+` FROM observations AS o WHERE o.fid IN (SELECT value FROM json_each(?)) ORDER BY o.observed_at, o.fid`, string(j))
	if err != nil {
		return nil, fmt.Errorf("store: observations by fid in %s: %w", db.path, err)
	}
	defer rows.Close()
	var obs []monitor.Observation
	for rows.Next() {
		o, err := scanObservation(rows, true)
		if err != nil {
			return nil, fmt.Errorf("store: observations by fid in %s: %w", db.path, err)
		}
		obs = append(obs, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: observations by fid in %s: %w", db.path, err)
	}
	return obs, nil
}

// Latest returns the highest observation fid and alert transition id stored
// (0 for none): two primary-key seeks, for a live view to tell whether there is
// anything new to read.
func (db *DB) Latest(ctx context.Context) (fid, transition int64, err error) {
	var f, t sql.NullInt64
	if err := db.r.QueryRowContext(ctx, `SELECT (SELECT max(fid) FROM observations), (SELECT max(id) FROM alert_transitions)`).Scan(&f, &t); err != nil {
		return 0, 0, fmt.Errorf("store: latest ids in %s: %w", db.path, err)
	}
	return f.Int64, t.Int64, nil
}
