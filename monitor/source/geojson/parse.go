// Package geojson reads GeoJSON into monitor observations: a FeatureCollection,
// a single Feature, or newline-delimited Features (one per line, as the spool
// and many exporters write them). Its defaults fit the USGS earthquake feeds;
// Options map other feeds' property names. Source pulls a document from a URL
// or a file through httpfeed.
//
// It imports monitor, geo, httpfeed, orb and the standard library.
package geojson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
)

// ErrNotGeoJSON is the whole-document error: the input is not JSON, or not a
// Feature, FeatureCollection or newline-delimited Features. Records that are
// merely bad become rejects instead.
var ErrNotGeoJSON = errors.New("not a GeoJSON Feature, FeatureCollection or newline-delimited Features")

// Options map a feed's properties onto Observation fields. The zero value reads
// the USGS GeoJSON summary feeds: id at the top level, properties time (epoch
// milliseconds), type, place, title and url.
type Options struct {
	// IDProperty (id_property) names the property holding the record's id. Empty:
	// the feature's top-level "id", else properties.id. Set: that property, else
	// the top-level id. Numbers are taken as written.
	IDProperty string
	// TimeProperty (time_property) names the time property (default "time").
	// It may be a number of epoch milliseconds, or of seconds with EpochSeconds,
	// or an RFC 3339 / ISO 8601 string; a string without a zone is UTC.
	TimeProperty string
	// EpochSeconds (epoch_seconds) reads a numeric time as seconds, not milliseconds.
	EpochSeconds bool
	// KindProperty (kind_property) names the kind property (default "type", as
	// USGS: "earthquake", "quarry blast", "explosion"; a feature without "type"
	// takes "kind", geowatch's own name, as pushed and spooled records use it).
	KindProperty string
	kindFallback string
	// DefaultKind (default_kind) is the kind of records without one.
	DefaultKind string
	// PlaceProperty (place_property) names the place-name property (default "place").
	PlaceProperty string
	// TitleProperty (title_property) names the headline property (default "title").
	TitleProperty string
	// URLProperty (url_property) names the link property (default "url").
	URLProperty string
	// WeightProperty (weight_property) names a numeric property to use as the
	// weight; empty (the default) gives every record weight 1.
	WeightProperty string
	// UpdatedProperty (updated_property) names the record's revision time, in
	// the time property's formats (default "updated", as USGS). A record whose
	// revision is older than the stored one's never replaces it. A value that
	// cannot be read is ignored: the record then has no revision time.
	UpdatedProperty string
	// DepthProperty (depth_property) is the property under which a Point's third
	// coordinate is added to Properties when the feature has no property of that
	// name (default "depth": USGS puts depth in km there and nowhere else). "-"
	// drops the third coordinate.
	DepthProperty string
}

func (o Options) withDefaults() Options {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.TimeProperty, "time")
	if o.KindProperty == "" {
		o.KindProperty, o.kindFallback = "type", "kind"
	}
	def(&o.PlaceProperty, "place")
	def(&o.TitleProperty, "title")
	def(&o.URLProperty, "url")
	def(&o.DepthProperty, "depth")
	def(&o.UpdatedProperty, "updated")
	return o
}

// Parse reads a GeoJSON document. Each feature becomes an Observation (with its
// Source left for the caller to set) or a Reject naming the feature and the
// field at fault, so that len(Observations)+len(Rejects) is the number of
// features. A FeatureCollection's features are named "feature <index>" (0-based,
// as jq's .features[i]); newline-delimited ones "line <n>" (1-based). The error
// is only for a document that cannot be read at all, and wraps ErrNotGeoJSON.
func Parse(data []byte, opt Options) (monitor.Batch, error) {
	opt = opt.withDefaults()
	untrimmed := bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a BOM some Windows tools write
	data = bytes.TrimSpace(untrimmed)
	var b monitor.Batch
	if len(data) == 0 {
		return b, fmt.Errorf("geojson: empty document: %w", ErrNotGeoJSON)
	}
	if !json.Valid(data) {
		return parseLines(untrimmed, opt) // untrimmed, to count lines as an editor does
	}
	var head struct {
		Type     string          `json:"type"`
		Features json.RawMessage `json:"features"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return b, fmt.Errorf("geojson: %w: %v", ErrNotGeoJSON, err)
	}
	switch head.Type {
	case "Feature":
		collect(&b, data, monitor.Position{Kind: monitor.RecordFeature}, opt)
	case "FeatureCollection":
		var features []json.RawMessage
		if len(head.Features) > 0 {
			if err := json.Unmarshal(head.Features, &features); err != nil {
				return b, fmt.Errorf("geojson: features: %w: %v", ErrNotGeoJSON, err)
			}
		}
		b.Observations = make([]monitor.Observation, 0, len(features))
		for i, f := range features {
			collect(&b, f, monitor.Position{Kind: monitor.RecordFeature, Index: int32(i)}, opt)
		}
	default:
		return b, fmt.Errorf("geojson: type %q: %w", head.Type, ErrNotGeoJSON)
	}
	return b, nil
}

// parseLines reads newline-delimited Features, one bad line making one reject.
// It accepts the document only if its first line is JSON, so that a truncated
// or mangled FeatureCollection fails as a whole instead of as a reject per line.
// A leading RS (0x1E) on a line is dropped, which also reads RFC 8142 sequences.
func parseLines(data []byte, opt Options) (monitor.Batch, error) {
	var b monitor.Batch
	first := true
	records := 0
	for n, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(bytes.TrimLeft(line, "\x1e"))
		if len(line) == 0 {
			continue
		}
		if first && !json.Valid(line) {
			return monitor.Batch{}, fmt.Errorf("geojson: line %d is not JSON: %w", n+1, ErrNotGeoJSON)
		}
		first = false
		collect(&b, line, monitor.Position{Kind: monitor.RecordFeature, Index: int32(records), Line: int32(n + 1)}, opt)
		records++
	}
	return b, nil
}

// collect parses the feature at pos into b, as an observation or a reject.
func collect(b *monitor.Batch, raw []byte, pos monitor.Position, opt Options) {
	o, err := parseFeature(raw, opt)
	o.Pos = pos
	if err == nil {
		b.Observations = append(b.Observations, o)
		return
	}
	record := pos.String()
	if o.ID != "" {
		record += " (" + monitor.EchoID(o.ID) + ")"
	}
	var fe *monitor.FieldError
	if !errors.As(err, &fe) {
		fe = &monitor.FieldError{Field: "feature", Err: err}
	}
	b.Rejects = append(b.Rejects, monitor.Reject{
		Record: record,
		Pos:    pos,
		Field:  fe.Field,
		Err:    fe.Err,
		Raw:    monitor.RawRecord(raw),
	})
}

// parseFeature reads one Feature object. On failure it returns a
// *monitor.FieldError naming the field by its path in the document, and the
// observation as far as it was read, so that the reject can show the id.
func parseFeature(raw []byte, opt Options) (monitor.Observation, error) {
	var o monitor.Observation
	var f struct {
		Type       string          `json:"type"`
		ID         json.RawMessage `json:"id"`
		Geometry   json.RawMessage `json:"geometry"`
		Properties json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return o, &monitor.FieldError{Field: "feature", Err: fmt.Errorf("%w: not a JSON object: %v", monitor.ErrBadValue, err)}
	}
	switch f.Type {
	case "Feature":
	case "":
		return o, &monitor.FieldError{Field: "type", Err: monitor.ErrMissing}
	default:
		return o, &monitor.FieldError{Field: "type", Err: fmt.Errorf("%w: %q, want \"Feature\"", monitor.ErrBadValue, f.Type)}
	}
	var props map[string]json.RawMessage
	if !isNull(f.Properties) {
		if err := json.Unmarshal(f.Properties, &props); err != nil {
			return o, &monitor.FieldError{Field: "properties", Err: fmt.Errorf("%w: not an object", monitor.ErrBadValue)}
		}
	}
	prop := func(name string) string { return "properties." + name }

	id, idField, err := featureID(f.ID, props, opt)
	o.ID = id
	if err != nil {
		return o, &monitor.FieldError{Field: idField, Err: err}
	}
	g, z, err := decodeGeometry(f.Geometry)
	if err != nil {
		return o, err
	}
	o.Point = representative(g)
	if _, ok := g.(orb.Point); !ok {
		o.Geometry = g
	}
	if o.Time, err = parseTime(props[opt.TimeProperty], opt.EpochSeconds); err != nil {
		return o, &monitor.FieldError{Field: prop(opt.TimeProperty), Err: err}
	}
	for _, t := range [...]struct {
		name string
		dst  *string
	}{
		{opt.KindProperty, &o.Kind},
		{opt.PlaceProperty, &o.Place},
		{opt.TitleProperty, &o.Title},
		{opt.URLProperty, &o.URL},
	} {
		if v := props[t.name]; !isNull(v) {
			if *t.dst, err = text(v); err != nil {
				return o, &monitor.FieldError{Field: prop(t.name), Err: err}
			}
		}
	}
	if v := props[opt.kindFallback]; o.Kind == "" && opt.kindFallback != "" && !isNull(v) {
		if o.Kind, err = text(v); err != nil {
			return o, &monitor.FieldError{Field: prop(opt.kindFallback), Err: err}
		}
	}
	if o.Kind == "" {
		o.Kind = opt.DefaultKind
	}
	if v := props[opt.UpdatedProperty]; !isNull(v) {
		if t, err := parseTime(v, opt.EpochSeconds); err == nil {
			o.Revised = t
		}
	}
	if v := props[opt.WeightProperty]; opt.WeightProperty != "" && !isNull(v) {
		if err := json.Unmarshal(v, &o.Weight); err != nil {
			return o, &monitor.FieldError{Field: prop(opt.WeightProperty), Err: fmt.Errorf("%w: want a number", monitor.ErrBadValue)}
		}
	}
	if o.Properties, err = properties(f.Properties, props, opt.DepthProperty, z); err != nil {
		return o, &monitor.FieldError{Field: "properties", Err: err}
	}

	o.Normalize()
	if err := o.Validate(); err != nil {
		var fe *monitor.FieldError
		if !errors.As(err, &fe) {
			return o, &monitor.FieldError{Field: "feature", Err: err}
		}
		// Validate names Observation fields; name them as the document has them.
		switch fe.Field {
		case "id":
			fe.Field = idField
		case "lat", "lon":
			fe.Field = "geometry.coordinates"
		case "time":
			fe.Field = prop(opt.TimeProperty)
		case "kind":
			fe.Field = prop(opt.KindProperty)
		case "place":
			fe.Field = prop(opt.PlaceProperty)
		case "title":
			fe.Field = prop(opt.TitleProperty)
		case "url":
			fe.Field = prop(opt.URLProperty)
		case "weight":
			fe.Field = prop(opt.WeightProperty)
		}
		return o, fe
	}
	return o, nil
}

// featureID returns the record's id and the path of the field it came from.
func featureID(top json.RawMessage, props map[string]json.RawMessage, opt Options) (id, field string, err error) {
	type candidate struct {
		field string
		raw   json.RawMessage
	}
	order := []candidate{{"id", top}, {"properties.id", props["id"]}}
	if opt.IDProperty != "" {
		order = []candidate{{"properties." + opt.IDProperty, props[opt.IDProperty]}, {"id", top}}
	}
	for _, c := range order {
		if !isNull(c.raw) {
			id, err := text(c.raw)
			return id, c.field, err
		}
	}
	return "", order[0].field, monitor.ErrMissing
}

// properties returns the feature's properties compacted into a buffer of their
// own (so the observation does not pin the whole document in memory), with a
// Point's third coordinate added under depthKey unless a property has that name.
func properties(raw json.RawMessage, props map[string]json.RawMessage, depthKey string, z *float64) (json.RawMessage, error) {
	if isNull(raw) {
		return nil, nil // not reached for an observation: its time is a property
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("%w: %v", monitor.ErrBadValue, err)
	}
	out := buf.Bytes()
	if z == nil || depthKey == "-" || props[depthKey] != nil {
		return out, nil
	}
	key, err := json.Marshal(depthKey)
	if err != nil {
		return nil, err
	}
	out = out[:len(out)-1] // the closing brace of a compacted object
	if len(out) > 1 {
		out = append(out, ',')
	}
	out = append(out, key...)
	out = append(out, ':')
	out = strconv.AppendFloat(out, *z, 'g', -1, 64)
	return append(out, '}'), nil
}

// text reads a string property, or a number as written (an id such as 12345,
// a CAMEO code).
func text(raw json.RawMessage) (string, error) {
	switch c := raw[0]; {
	case c == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("%w: %v", monitor.ErrBadValue, err)
		}
		return s, nil
	case c == '-' || c >= '0' && c <= '9':
		return string(raw), nil
	}
	return "", fmt.Errorf("%w: want a string or a number, got %.40s", monitor.ErrBadValue, raw)
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// Layouts of string times, tried in order. RFC 3339 covers "Z" and "+10:00"
// zones with or without fractional seconds; a layout without a zone parses as UTC.
var timeLayouts = [...]string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02",
}

// maxEpochMillis bounds numeric times well past year 9999 but far inside
// int64 nanoseconds' float conversions, so that absurd numbers are rejected
// here instead of wrapping around.
const maxEpochMillis = 1e15

// parseTime reads a time property: epoch milliseconds (seconds with
// epochSeconds) or an ISO 8601 string.
func parseTime(raw json.RawMessage, epochSeconds bool) (time.Time, error) {
	if isNull(raw) {
		return time.Time{}, monitor.ErrMissing
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, fmt.Errorf("%w: %v", monitor.ErrBadTime, err)
		}
		s = strings.TrimSpace(s)
		for _, layout := range timeLayouts {
			if t, err := time.Parse(layout, s); err == nil {
				return t, nil
			}
		}
		return time.Time{}, fmt.Errorf("%w: %q is not RFC 3339 or ISO 8601", monitor.ErrBadTime, s)
	}
	// Integers, the usual case, convert exactly.
	if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		limit := int64(maxEpochMillis)
		if epochSeconds {
			limit /= 1000
		}
		if n > limit || n < -limit {
			return time.Time{}, fmt.Errorf("%w: %d out of range", monitor.ErrBadTime, n)
		}
		if epochSeconds {
			return time.Unix(n, 0), nil
		}
		return time.UnixMilli(n), nil
	}
	var v float64
	if err := json.Unmarshal(raw, &v); err != nil {
		return time.Time{}, fmt.Errorf("%w: want epoch milliseconds or an RFC 3339 string, got %.40s", monitor.ErrBadTime, raw)
	}
	ms := v
	if epochSeconds {
		ms *= 1000
	}
	if math.Abs(ms) > maxEpochMillis {
		return time.Time{}, fmt.Errorf("%w: %v out of range", monitor.ErrBadTime, v)
	}
	// Split before scaling so the fraction keeps float64's precision.
	whole, frac := math.Modf(v)
	if epochSeconds {
		return time.Unix(int64(whole), int64(frac*1e9)), nil
	}
	return time.UnixMilli(int64(whole)).Add(time.Duration(frac * 1e6)), nil
}
