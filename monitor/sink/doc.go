// Package sink holds geowatch's alert sinks, the monitor.Notifier implementations
// that announce alert transitions: Log writes one zap line per event to the process
// log, File appends one JSON object per event to an alerts file (rotating it by
// size if asked), Webhook POSTs that same object to a URL, and Alertmanager
// hands the alerts to Prometheus Alertmanagers through their API, re-sending
// the firing ones (see Alertmanager for its labels and annotations).
//
// The log, the file and the webhook carry the same stable, snake_case keys,
// which subscribers filter on:
//
//	alert_id       int     the alert's store id
//	watch          string  the watch's name
//	rule           string  the rule's name on the watch
//	rule_type      string  "count", "cluster"
//	severity       string  "info", "warning", "critical"
//	state          string  the state entered: "firing" or "resolved"
//	count          int     observations in the latest finding
//	weight         float   their summed weight
//	radius_m       float   the watch's radius, in metres
//	window         string  the rule's window as a Go duration: "6h0m0s"
//	lat, lon       float   the finding's centre, in degrees (WGS 84)
//	first_seen     string  the finding's earliest observation, RFC 3339 UTC
//	last_seen      string  the finding's latest observation, RFC 3339 UTC
//	starts_at      string  when the alert started firing, RFC 3339 UTC
//	ends_at        string  when it resolved, RFC 3339 UTC; resolved events only
//	summary        string  the rule's summary template, rendered; only when set
//	labels         object  the rule's labels; only when set
//	stats          object  the rule's statistics (surge: observed, expected, ratio, p;
//	                       scan: llr, p, recurrence_days…; a corridor watch's along_km);
//	                       only for rules that have them
//	progression    object  a progression rule's direction, steps (along_km, at, count,
//	                       lat, lon, place, fids), speed_kmh, next and end (predicted
//	                       steps: along_km, at, lat, lon, place); only for that rule
//	transition_id  int     the transition's store id
//
// The message is "alert firing" or "alert resolved". The alerts file and the
// webhook's body add msg, ts (the transition's time, RFC 3339 UTC), hull (the
// finding's convex hull as a GeoJSON geometry, or null) and fids (the
// observations' store ids).
//
// It imports monitor, orb, zap and lumberjack (File's rotation) only.
package sink
