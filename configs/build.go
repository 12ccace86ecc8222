package configs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"
	_ "time/tzdata" // time_zone names resolve without the system's zoneinfo

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/geo/gazetteer"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/daemon"
	"github.com/geowatch/geowatch/monitor/rule"
	"github.com/geowatch/geowatch/monitor/source/csv"
	"github.com/geowatch/geowatch/monitor/source/geojson"
	"github.com/geowatch/geowatch/monitor/source/httpfeed"
	"github.com/geowatch/geowatch/monitor/source/replay"
	"github.com/geowatch/geowatch/monitor/source/rss"
	"github.com/geowatch/geowatch/monitor/source/spool"
)

// SourceTypes lists the source types a config may name.
var SourceTypes = []string{"geojson", "rss", "spool", "replay", "push"}

func (b *builder) source(path string, s SourceConfig) {
	if s.Type == "push" {
		b.pushSource(path, s)
		return
	}
	timeout := b.duration(path+".timeout", s.Timeout, DefaultCheckTimeout)
	b.schedule(path+".schedule", s.Schedule)
	// Options that only some types read; setting one elsewhere is a mistake
	// worth reporting rather than ignoring.
	used := map[string]bool{}
	used["id_namespace"] = s.Type == "geojson" || s.Type == "csv" || s.Type == "rss" || s.Type == "spool"
	var opt geojson.Options
	if s.Type != "csv" {
		opt = b.geojsonOptions(path, s)
	}
	var src monitor.Source
	switch s.Type {
	case "csv":
		used["url"], used["kind"], used["fields"], used["preset"], used["delimiter"] = true, true, true, true, true
		used["header"], used["columns"], used["min_columns"], used["lazy_quotes"], used["precisions"] = true, true, true, true, true
		used["time_zone"], used["max_event_lag"], used["keep_row"] = true, true, true
		if s.URL == "" {
			b.fail(path+".url", nil, ErrRequired)
		}
		copt, ok := b.csvOptions(path, s)
		if !ok {
			return
		}
		src = csv.New(s.URL, httpfeed.New(httpfeed.Options{Timeout: timeout, Version: monitor.Version()}), copt)
	case "geojson":
		used["url"], used["kind"], used["fields"] = true, true, true
		if s.URL == "" {
			b.fail(path+".url", nil, ErrRequired)
		}
		src = geojson.New(s.URL, httpfeed.New(httpfeed.Options{Timeout: timeout, Version: monitor.Version()}), opt)
	case "rss":
		used["url"], used["kind"], used["min_confidence"], used["max_places"] = true, true, true, true
		if s.URL == "" {
			b.fail(path+".url", nil, ErrRequired)
		}
		used["preset"], used["time"], used["time_pattern"], used["time_layout"] = true, true, true, true
		var ropt rss.Options
		if s.Preset != "" {
			p, err := rss.Preset(s.Preset)
			if err != nil {
				b.fail(path+".preset", s.Preset, err)
			}
			ropt = p
		}
		if s.Kind != "" {
			ropt.Kind = s.Kind
		}
		if s.Time != "" {
			ropt.Time = s.Time
		}
		if s.TimePattern != "" {
			re, err := regexp.Compile(s.TimePattern)
			if err != nil {
				b.fail(path+".time_pattern", s.TimePattern, err)
			}
			ropt.TimePattern = re
		}
		if s.TimeLayout != nil {
			ropt.TimeLayouts = s.TimeLayout
		}
		if err := ropt.Validate(); err != nil {
			b.fail(path+".time", s.Time, err)
		}
		if c := s.MinConfidence; c != nil {
			if *c <= 0 || *c > 1 {
				b.fail(path+".min_confidence", *c, errors.New("must be in (0, 1]"))
			}
			ropt.MinConfidence = *c
		}
		if m := s.MaxPlaces; m != nil {
			if *m <= 0 {
				b.fail(path+".max_places", *m, ErrNotPositive)
			}
			ropt.MaxPlacesPerItem = *m
		}
		src = rss.New(s.URL, httpfeed.New(httpfeed.Options{Timeout: timeout, Version: monitor.Version()}), b.plan.Gazetteer, ropt)
	case "spool":
		used["dir"], used["kind"], used["fields"] = true, true, true
		if s.Dir == "" {
			b.fail(path+".dir", nil, ErrRequired)
		}
		src = spool.New(s.Dir, spool.Options{GeoJSON: opt})
	case "replay":
		used["file"], used["lead"], used["kind"], used["fields"] = true, true, true, true
		ropt := replay.Options{GeoJSON: opt}
		if s.Lead != "" {
			ropt.Lead = b.duration(path+".lead", s.Lead, 0)
		}
		var r *replay.Source
		var err error
		if s.File == "" || s.File == "scenario" {
			r, err = replay.New(Scenario, "scenario", ropt)
		} else {
			r, err = replay.Open(s.File, ropt)
		}
		if err != nil {
			b.fail(path+".file", s.File, err)
			return
		}
		src = r
	case "":
		b.fail(path+".type", nil, fmt.Errorf("%w: one of %v", ErrRequired, SourceTypes))
		return
	default:
		b.fail(path+".type", s.Type, fmt.Errorf("%w: want one of %v", ErrUnknown, SourceTypes))
		return
	}
	for field, set := range map[string]bool{
		"url": s.URL != "", "dir": s.Dir != "", "file": s.File != "", "lead": s.Lead != "",
		"kind": s.Kind != "", "fields": s.Fields != nil,
		"min_confidence": s.MinConfidence != nil, "max_places": s.MaxPlaces != nil,
		"preset": s.Preset != "", "delimiter": s.Delimiter != "", "header": s.Header != nil,
		"columns": s.Columns != nil, "min_columns": s.MinColumns != 0, "lazy_quotes": s.LazyQuotes,
		"precisions": s.Precisions != nil, "time_zone": s.TimeZone != "", "max_event_lag": s.MaxEventLag != "", "keep_row": s.KeepRow,
		"id_namespace": s.IDNamespace != "", "time": s.Time != "", "time_pattern": s.TimePattern != "", "time_layout": s.TimeLayout != nil,
	} {
		if set && !used[field] {
			b.fail(path+"."+field, nil, fmt.Errorf("%w (%s)", ErrNotApplied, s.Type))
		}
	}
	if s.IDNamespace != "" && used["id_namespace"] {
		if !ValidName(s.IDNamespace) {
			b.fail(path+".id_namespace", s.IDNamespace, errors.New("want letters, digits, _ . -"))
		}
		src = Namespaced{Source: src, Namespace: s.IDNamespace}
	}
	b.plan.Checks = append(b.plan.Checks, daemon.Check{
		Name: s.Name, Type: s.Type, Schedule: s.Schedule, Timeout: timeout,
		Source: src, Fingerprint: fingerprint(s),
	})
}

func (b *builder) geojsonOptions(path string, s SourceConfig) geojson.Options {
	if f := s.Fields; f != nil {
		for field, set := range map[string]bool{"lat": f.Lat != "", "lon": f.Lon != "", "precision": f.Precision != "", "time_layout": f.TimeLayout != nil,
			"id_fallback": f.IDFallback != "", "event_time": f.EventTime != "", "updated": f.Updated != "", "event_time_layout": f.EventTimeLayout != nil} {
			if set {
				b.fail(path+".fields."+field, nil, fmt.Errorf("%w (%s; csv only)", ErrNotApplied, s.Type))
			}
		}
		if len(f.Time) > 1 {
			b.fail(path+".fields.time", []string(f.Time), fmt.Errorf("%w (%s; a list of columns is csv only)", ErrNotApplied, s.Type))
		}
		switch f.TimeFormat {
		case "", "auto", "epoch_ms", "epoch_s", "rfc3339":
		default:
			b.fail(path+".fields.time_format", f.TimeFormat, fmt.Errorf("%w: want auto, epoch_ms, epoch_s or rfc3339", ErrUnknown))
		}
	}
	return s.GeoJSONOptions()
}

// GeoJSONOptions maps a GeoJSON-reading source's kind and fields onto the
// parser's options (a one-off import reads files as the daemon would).
func (s SourceConfig) GeoJSONOptions() geojson.Options {
	opt := geojson.Options{DefaultKind: s.Kind}
	if f := s.Fields; f != nil {
		opt.IDProperty, opt.TimeProperty, opt.KindProperty = f.ID, f.Time.First(), f.Kind
		opt.PlaceProperty, opt.TitleProperty, opt.URLProperty, opt.WeightProperty = f.Place, f.Text, f.URL, f.Weight
		opt.EpochSeconds = f.TimeFormat == "epoch_s"
	}
	return opt
}

// RuleTypes lists the rule types a config may name.
var RuleTypes = []string{"count", "cluster", "surge", "scan", "progression"}

// ruleOptions lists, per rule type, the type-specific options it reads; the
// rest are errors when set.
var ruleOptions = map[string][]string{
	"count":       {"min", "window"},
	"cluster":     {"eps", "time_eps", "min_points", "window"},
	"surge":       {"window", "baseline", "alpha", "min"},
	"scan":        {"area", "period", "max_radius", "max_window", "time_unit", "replicates", "seed", "every", "recurrence", "centers"},
	"progression": {"window", "min_steps", "min_gap", "speed", "direction", "eps", "time_eps", "min_points"},
}

func (b *builder) rule(path string, rc RuleConfig, watchSchedule string, w *monitor.Watch) (monitor.NamedRule, bool) {
	nr := monitor.NamedRule{Name: rc.Name, Type: rc.Type, Labels: rc.Labels}
	n := len(b.errs)
	sev, err := monitor.ParseSeverity(rc.Severity)
	if err != nil {
		b.fail(path+".severity", nil, err)
	}
	nr.Severity = sev
	nr.For = b.optDuration(path+".for", rc.For)
	nr.KeepFiringFor = b.optDuration(path+".keep_firing_for", rc.KeepFiringFor)
	nr.Repeat = b.optDuration(path+".repeat", rc.Repeat)
	nr.Select.Sources = rc.Sources
	if d := rc.Dedupe; d != nil {
		if d.Within == "" {
			b.fail(path+".dedupe.within", nil, ErrRequired)
		} else if m, err := geo.ParseDistance(d.Within); err != nil {
			b.fail(path+".dedupe.within", nil, err)
		} else {
			nr.Dedupe.Within = m
		}
		nr.Dedupe.Window = b.duration(path+".dedupe.window", d.Window, 0)
	}
	for i, p := range rc.Precisions {
		pr, err := monitor.ParsePrecision(p)
		if err != nil {
			b.fail(fmt.Sprintf("%s.precisions[%d]", path, i), nil, err)
		}
		nr.Select.Precisions = append(nr.Select.Precisions, pr)
	}
	if rc.Summary != "" {
		t, err := template.New(rc.Name).Option("missingkey=error").Parse(rc.Summary)
		if err != nil {
			b.fail(path+".summary", nil, err)
		} else if err := t.Execute(io.Discard, monitor.SummaryData{}); err != nil {
			b.fail(path+".summary", nil, fmt.Errorf("template: %w", err))
		}
		nr.Summary = t
	}
	opts, known := ruleOptions[rc.Type]
	switch {
	case rc.Type == "":
		b.fail(path+".type", nil, fmt.Errorf("%w: one of %v", ErrRequired, RuleTypes))
		return nr, false
	case !known:
		b.fail(path+".type", rc.Type, fmt.Errorf("%w: want one of %v", ErrUnknown, RuleTypes))
		return nr, false
	}
	for field, set := range map[string]bool{
		"min": rc.Min != nil, "eps": rc.Eps != "", "time_eps": rc.TimeEps != "", "min_points": rc.MinPoints != nil,
		"window": rc.Window != "", "baseline": rc.Baseline != "", "alpha": rc.Alpha != nil, "area": rc.Area != "",
		"period": rc.Period != "", "max_radius": rc.MaxRadius != "", "max_window": rc.MaxWindow != "",
		"time_unit": rc.TimeUnit != "", "replicates": rc.Replicates != nil, "seed": rc.Seed != nil,
		"every": rc.Every != "", "recurrence": rc.Recurrence != "", "centers": rc.Centers != "",
		"min_steps": rc.MinSteps != nil, "min_gap": rc.MinGap != "", "speed": rc.Speed != "", "direction": rc.Direction != "",
	} {
		if set && !slices.Contains(opts, field) {
			b.fail(path+"."+field, nil, fmt.Errorf("%w (%s)", ErrNotApplied, rc.Type))
		}
	}
	var r monitor.Rule
	switch rc.Type {
	case "count":
		window := b.duration(path+".window", rc.Window, 0)
		min := b.required(path+".min", rc.Min)
		if len(b.errs) > n {
			return nr, false
		}
		r, err = rule.NewCount(rule.CountParams{Min: min, Window: window, Kinds: rc.Kinds})
	case "cluster":
		window := b.duration(path+".window", rc.Window, 0)
		eps := b.distance(path+".eps", rc.Eps)
		timeEps := b.optDuration(path+".time_eps", rc.TimeEps)
		if rc.MinPoints == nil {
			b.fail(path+".min_points", nil, ErrRequired)
		}
		if len(b.errs) > n {
			return nr, false
		}
		r, err = rule.NewCluster(rule.ClusterParams{EpsMeters: eps, TimeEps: timeEps, MinPoints: *rc.MinPoints, Window: window, Kinds: rc.Kinds})
	case "surge":
		window := b.duration(path+".window", rc.Window, 0)
		baseline := b.duration(path+".baseline", rc.Baseline, 0)
		alpha := b.required(path+".alpha", rc.Alpha)
		min := b.required(path+".min", rc.Min)
		if len(b.errs) > n {
			return nr, false
		}
		r, err = rule.NewSurge(rule.SurgeParams{Window: window, Baseline: baseline, Alpha: alpha, Min: min, Kinds: rc.Kinds})
	case "scan":
		p := rule.ScanParams{Kinds: rc.Kinds}
		p.AreaMeters = b.distance(path+".area", rc.Area)
		p.Period = b.duration(path+".period", rc.Period, 0)
		p.MaxRadiusMeters = b.distance(path+".max_radius", rc.MaxRadius)
		p.MaxWindow = b.duration(path+".max_window", rc.MaxWindow, 0)
		p.TimeUnit = b.optDuration(path+".time_unit", rc.TimeUnit)
		p.Recurrence = b.duration(path+".recurrence", rc.Recurrence, 0)
		if rc.Every != "" {
			p.EvalEvery = b.duration(path+".every", rc.Every, 0)
		} else if d, ok := everyOf(watchSchedule); ok {
			p.EvalEvery = d
		} else {
			b.fail(path+".every", nil, fmt.Errorf("%w: the watch's schedule is not @every, so give the evaluation interval", ErrRequired))
		}
		if rc.Replicates != nil {
			p.Replicates = *rc.Replicates
		}
		if rc.Seed != nil {
			p.Seed = uint64(*rc.Seed)
		}
		if p.Centers, err = rule.ParseScanCenters(rc.Centers); err != nil {
			b.fail(path+".centers", rc.Centers, errors.New("want watch or area"))
		}
		if len(b.errs) > n {
			return nr, false
		}
		r, err = rule.NewScan(p)
	case "progression":
		c, isCorridor := w.Shape.(geo.Corridor)
		if !isCorridor {
			if !b.corridorGiven { // else the corridor's own error says it
				b.fail(path+".type", rc.Type, fmt.Errorf("%w: give the watch a corridor", rule.ErrNotCorridor))
			}
			return nr, false
		}
		p := rule.ProgressionParams{Kinds: rc.Kinds, Direction: rc.Direction}
		p.Window = b.duration(path+".window", rc.Window, 0)
		p.MinGapMeters = b.distance(path+".min_gap", rc.MinGap)
		if rc.Speed == "" {
			b.fail(path+".speed", nil, fmt.Errorf("%w: a range such as 20-120km/h", ErrRequired))
		} else if lo, hi, err := ParseSpeedRange(rc.Speed); err != nil {
			b.fail(path+".speed", rc.Speed, err)
		} else {
			p.MinSpeed, p.MaxSpeed = lo, hi
		}
		if rc.MinSteps != nil {
			if *rc.MinSteps < 2 {
				b.fail(path+".min_steps", *rc.MinSteps, errors.New("must be at least 2"))
			}
			p.MinSteps = *rc.MinSteps
		}
		if rc.Eps != "" {
			p.StepMeters = b.distance(path+".eps", rc.Eps)
		}
		p.StepTime = b.optDuration(path+".time_eps", rc.TimeEps)
		if rc.MinPoints != nil {
			if *rc.MinPoints < 1 {
				b.fail(path+".min_points", *rc.MinPoints, errors.New("must be at least 1"))
			}
			p.MinPoints = *rc.MinPoints
		}
		p.Places = b.placesAlong(c)
		if len(b.errs) > n {
			return nr, false
		}
		r, err = rule.NewProgression(p)
	}
	if err != nil {
		b.ruleErr(path, err)
		return nr, false
	}
	nr.Rule = r
	return nr, len(b.errs) == n
}

// placesAlong returns the gazetteer's places (the config's too) near enough to
// corridor c to name a progression's steps: within its width plus
// rule.PlaceNearMeters of the line. Countries and regions, located by a single
// point far from most of them, are left out.
func (b *builder) placesAlong(c geo.Corridor) []rule.Place {
	var out []rule.Place
	reach := c.WidthMeters() + rule.PlaceNearMeters
	for p := range b.plan.Gazetteer.All {
		if p.Class == gazetteer.ClassCountry || p.Class == gazetteer.ClassRegion {
			continue
		}
		if _, off := c.Project(p.Point); off <= reach {
			out = append(out, rule.Place{Name: p.Name, Point: p.Point})
		}
	}
	return out
}

// ParseSpeedRange reads a speed range such as "20-120km/h" (also m/s, mph and
// kn) into metres per second.
func ParseSpeedRange(s string) (lo, hi float64, err error) {
	t := strings.ToLower(strings.ReplaceAll(s, " ", ""))
	units := []struct {
		suffix string
		scale  float64
	}{{"km/h", 1 / 3.6}, {"kmh", 1 / 3.6}, {"kph", 1 / 3.6}, {"m/s", 1}, {"mph", 0.44704}, {"kn", 1852.0 / 3600}}
	scale := 0.0
	for _, u := range units {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, scale = rest, u.scale
			break
		}
	}
	if scale == 0 {
		return 0, 0, errors.New("want a range with a unit, such as 20-120km/h (km/h, m/s, mph or kn)")
	}
	a, b, ok := strings.Cut(t, "-")
	if !ok {
		return 0, 0, errors.New("want a range low-high, such as 20-120km/h")
	}
	lo, err1 := strconv.ParseFloat(a, 64)
	hi, err2 := strconv.ParseFloat(b, 64)
	if err1 != nil || err2 != nil || !(lo > 0) || !(hi > lo) || math.IsInf(hi, 1) {
		return 0, 0, errors.New("want two positive numbers, the lower first, such as 20-120km/h")
	}
	return lo * scale, hi * scale, nil
}

// required returns *v, reporting field as missing when v is nil.
func (b *builder) required(field string, v *float64) float64 {
	if v == nil {
		b.fail(field, nil, ErrRequired)
		return 0
	}
	return *v
}

// optDuration parses an optional non-negative duration; "" is zero.
func (b *builder) optDuration(field, s string) time.Duration {
	if s == "" {
		return 0
	}
	d, err := ParseDuration(s)
	if err != nil {
		b.fail(field, nil, err)
	}
	return d
}

// everyOf returns the interval of an "@every D" schedule.
func everyOf(schedule string) (time.Duration, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(schedule), "@every ")
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(strings.TrimSpace(rest))
	return d, err == nil && d > 0
}

// ruleErr reports a rule constructor's error at the parameter it names.
func (b *builder) ruleErr(path string, err error) {
	var pe *rule.ParamError
	if errors.As(err, &pe) {
		b.fail(path+"."+pe.Param, pe.Value, pe.Err)
		return
	}
	b.fail(path, nil, err)
}

// csvOptions maps a csv source's config onto csv.Options and checks them with
// the csv package's own validation (an unknown preset, a missing column).
func (b *builder) csvOptions(path string, s SourceConfig) (csv.Options, bool) {
	opt := csv.Options{Preset: s.Preset, Columns: s.Columns, MinColumns: s.MinColumns, LazyQuotes: s.LazyQuotes, DefaultKind: s.Kind, KeepRow: s.KeepRow}
	if s.Header != nil {
		opt.Header = *s.Header
	}
	switch d := []rune(strings.ReplaceAll(s.Delimiter, `\t`, "\t")); len(d) {
	case 0:
	case 1:
		opt.Delimiter = d[0]
	default:
		b.fail(path+".delimiter", s.Delimiter, errors.New("want one character"))
	}
	if f := s.Fields; f != nil {
		if f.TimeFormat != "" {
			b.fail(path+".fields.time_format", f.TimeFormat, fmt.Errorf("%w (csv; use time_layout)", ErrNotApplied))
		}
		opt.Fields = csv.Fields{ID: f.ID, IDFallback: f.IDFallback, Time: f.Time.First(), TimeLayout: f.TimeLayout, Lat: f.Lat, Lon: f.Lon, Kind: f.Kind,
			Place: f.Place, Text: f.Text, URL: f.URL, Weight: f.Weight, Precision: f.Precision,
			EventTime: f.EventTime, EventTimeLayout: f.EventTimeLayout, Updated: f.Updated}
		if len(f.Time) > 1 {
			opt.Fields.TimeColumns = f.Time[1:]
		}
	}
	if s.TimeZone != "" {
		loc, err := parseZone(s.TimeZone)
		if err != nil {
			b.fail(path+".time_zone", s.TimeZone, err)
		}
		opt.TimeZone = loc
	}
	if s.MaxEventLag != "" {
		switch d, err := ParseDuration(s.MaxEventLag); {
		case err != nil:
			b.fail(path+".max_event_lag", nil, err)
		case d < 0:
			b.fail(path+".max_event_lag", s.MaxEventLag, errors.New("must not be negative"))
		case d == 0:
			opt.MaxEventLag = -1 // 0s turns a preset's check off
		default:
			opt.MaxEventLag = d
		}
	}
	if len(s.Precisions) > 0 {
		opt.Precisions = make(map[string]monitor.Precision, len(s.Precisions))
		for k, v := range s.Precisions {
			p, err := monitor.ParsePrecision(v)
			if err != nil {
				b.fail(path+".precisions."+k, nil, err)
				continue
			}
			opt.Precisions[k] = p
		}
	}
	if err := opt.Validate(); err != nil {
		b.fail(path, nil, err)
		return opt, false
	}
	return opt, true
}

// parseZone reads a time zone: an IANA name ("Europe/Rome", "UTC") or a fixed
// offset ("+03:00", "-0500", "Z").
func parseZone(s string) (*time.Location, error) {
	for _, layout := range [...]string{"Z07:00", "Z0700", "Z07"} {
		if t, err := time.Parse(layout, s); err == nil {
			_, off := t.Zone()
			return time.FixedZone(s, off), nil
		}
	}
	loc, err := time.LoadLocation(s)
	if err != nil || s == "" || s == "Local" {
		return nil, fmt.Errorf("%w: want an IANA name such as Europe/Rome or an offset such as +03:00", ErrUnknown)
	}
	return loc, nil
}

// Namespaced is a source whose batches carry its config's id_namespace, so
// that the store keeps one record per (namespace, id) across the sources that
// share it.
type Namespaced struct {
	monitor.Source
	Namespace string
}

// Pull stamps every batch with the namespace.
func (n Namespaced) Pull(ctx context.Context, now time.Time, emit monitor.EmitFunc) error {
	return n.Source.Pull(ctx, now, func(ctx context.Context, b monitor.Batch) error {
		b.Namespace = n.Namespace
		return emit(ctx, b)
	})
}
