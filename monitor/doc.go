// Package monitor is geowatch's domain and engine: observations and the checks that
// pull them from sources, watches and the rules that decide when activity clusters
// near a watched place, and alerts with their lifecycle.
//
// It imports geo, orb and zap. It never imports store or configs: it declares the
// small interfaces it needs (Store, Source, Rule, Notifier) and the packages that
// implement them satisfy them implicitly. Time is always an argument: only the
// scheduler reads the wall clock, so rules and the alert lifecycle run the same on a
// simulated clock in backtests.
package monitor
