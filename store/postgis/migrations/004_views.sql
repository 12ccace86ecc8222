-- Views for analysts in psql, QGIS or any SQL client, with the columns of the
-- SQLite file's views (store/sqlite/migrations/005_views.sql), so the
-- README's queries read the same. Geodesic distances are
-- ST_Distance(geom::geography, ST_MakePoint(lon, lat)::geography) in metres.

-- recent_observations: observed in the last 24 hours before now (the clock of
-- whoever queries), newest first.
CREATE VIEW recent_observations AS
SELECT fid, source, ext_id, observed_at, ingested_at, lat, lon, place, kind, title, url,
       weight, precision, properties, geometry, geom
FROM observations
WHERE observed_at >= now() - interval '1 day'
ORDER BY observed_at DESC, fid DESC;

-- open_alerts: the alerts firing now, oldest first.
CREATE VIEW open_alerts AS
SELECT id, watch, rule, rule_type, severity, starts_at, updated_at, count, weight,
       lat, lon, first_seen, last_seen, radius_m, window_s, shape, stats, fids, geom
FROM alerts
WHERE state = 'firing'
ORDER BY id;

-- alert_history: every state change with its alert, in order; notified_at is
-- NULL until every subscriber has had it.
CREATE VIEW alert_history AS
SELECT t.id AS transition_id, t.alert_id, a.watch, a.rule, a.severity,
       t.from_state, t.to_state, t.at, t.notified_at
FROM alert_transitions AS t JOIN alerts AS a ON a.id = t.alert_id
ORDER BY t.id;

-- source_health: each source's last run and totals; healthy is true when its
-- last run succeeded, false when it failed or none ever has.
CREATE VIEW source_health AS
SELECT name, type, last_run, last_success, last_error, consecutive_failures,
       last_duration_ms, total_seen, total_added, total_updated, total_unchanged, total_rejected,
       (last_error IS NULL AND last_success IS NOT NULL) AS healthy
FROM sources
ORDER BY name;
