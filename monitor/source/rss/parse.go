// Package rss reads RSS 2.0 and Atom news feeds (and, through the same parser,
// RSS 1.0 and JSON Feed) into monitor observations. An item that carries its
// own coordinates (GeoRSS Simple or GML, or W3C Basic Geo) becomes one exact
// observation there; any other item is geotagged from its title and text with
// a gazetteer, and becomes one observation per place it names. Source pulls a
// feed from a URL or a file through httpfeed.
//
// It imports monitor, geo, geo/gazetteer, httpfeed, orb, gofeed,
// golang.org/x/net/html and the standard library.
package rss

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/geo/gazetteer"
	"github.com/geowatch/geowatch/monitor"
	"github.com/mmcdole/gofeed"
	ext "github.com/mmcdole/gofeed/extensions"
	"github.com/paulmach/orb"
)

// Defaults for Options' zero values.
const (
	DefaultKind             = "news"
	DefaultMinConfidence    = 0.5
	DefaultMaxPlacesPerItem = 5
)

var (
	// ErrNotFeed is the whole-document error: the input is not a well-formed
	// RSS, Atom or JSON feed. Items that are merely bad become rejects instead.
	ErrNotFeed = errors.New("not an RSS, Atom or JSON feed")
	// ErrNoPlace rejects an item that carries no coordinates and names no place
	// the gazetteer knows (at MinConfidence or above). It is not a fault of the
	// feed, but it is reported so that every item received is accounted for.
	ErrNoPlace = errors.New("names no known place")
)

// Options configure how items become observations; zero values take the
// defaults.
type Options struct {
	// Kind (kind) classifies the observations (default "news").
	Kind string
	// MinConfidence (min_confidence) drops place names that the gazetteer
	// matched with a lower confidence, in (0, 1] (default 0.5, which keeps
	// exact names and drops "Vladimir" in "President Vladimir Putin").
	MinConfidence float64
	// MaxPlacesPerItem (max_places) caps the observations of one geotagged
	// item, keeping the most confident places (default 5).
	MaxPlacesPerItem int
	// Time (time) says which time an item carries: "published" (the default:
	// published, else updated), "updated" (updated, else published), or
	// "summary": the first match of TimePattern in the item's summary, else its
	// content, read with TimeLayouts. USGS's Atom feeds have no <published> and
	// an <updated> that moves with every revision; the origin time is only in
	// the summary (preset usgs-atom).
	Time string
	// TimePattern (time_pattern) finds the time in the summary for Time
	// "summary"; its first group (else the whole match) is the time.
	TimePattern *regexp.Regexp
	// TimeLayouts (time_layout) are the Go layouts of that time, tried in order
	// (default RFC 3339).
	TimeLayouts []string
	// Now is the time of items with neither a published nor an updated time
	// (or ones that cannot be parsed). Source sets it to the time of the pull;
	// left zero, such items are rejected as having no time.
	Now time.Time
}

// Item times Options.Time names.
const (
	TimePublished = "published"
	TimeUpdated   = "updated"
	TimeSummary   = "summary"
)

// Presets are the options of known feeds, for Options.Preset.
var presets = map[string]Options{
	// USGS's Atom summary feeds (earthquake.usgs.gov/earthquakes/feed/v1.0/
	// summary/all_week.atom): the origin time, to the second, from the
	// summary's "<dt>Time</dt><dd>2018-06-12 23:08:28 UTC</dd>".
	"usgs-atom": {
		Kind:        "earthquake",
		Time:        TimeSummary,
		TimePattern: regexp.MustCompile(`<dt>Time</dt>\s*<dd>([^<]+)</dd>`),
		TimeLayouts: []string{"2006-01-02 15:04:05 MST", "2006-01-02 15:04:05.999 MST"},
	},
}

// Preset returns the options of a known feed: "usgs-atom".
func Preset(name string) (Options, error) {
	p, ok := presets[name]
	if !ok {
		return Options{}, fmt.Errorf("rss: preset %q: unknown (want usgs-atom)", name)
	}
	p.TimeLayouts = slices.Clone(p.TimeLayouts)
	return p, nil
}

// Validate checks the time options.
func (o Options) Validate() error {
	switch o.Time {
	case "", TimePublished, TimeUpdated:
		if o.TimePattern != nil {
			return errors.New("rss: time_pattern: only with time: summary")
		}
	case TimeSummary:
		if o.TimePattern == nil {
			return errors.New("rss: time_pattern: required with time: summary")
		}
	default:
		return fmt.Errorf("rss: time %q: want published, updated or summary", o.Time)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Time == "" {
		o.Time = TimePublished
	}
	if len(o.TimeLayouts) == 0 {
		o.TimeLayouts = []string{time.RFC3339Nano}
	}
	if o.Kind == "" {
		o.Kind = DefaultKind
	}
	if o.MinConfidence <= 0 {
		o.MinConfidence = DefaultMinConfidence
	}
	if o.MaxPlacesPerItem <= 0 {
		o.MaxPlacesPerItem = DefaultMaxPlacesPerItem
	}
	return o
}

// Parse reads a feed. An item with coordinates becomes one observation, with
// the item's id (its GUID, else its link, else a hash of its title and
// published time) and exact precision. Any other item is geotagged with gz,
// and each place it names becomes an observation with id "<item id>#<place
// key>", the precision of the place's class, and the match's confidence in
// Properties. An item that names no place, or whose observation fails
// validation, becomes a reject naming "item <index>" (0-based) and the field
// at fault, so every item is accounted for. The error is only for a document
// that cannot be read at all, and wraps ErrNotFeed.
func Parse(data []byte, gz *gazetteer.Gazetteer, opt Options) (monitor.Batch, error) {
	opt = opt.withDefaults()
	var b monitor.Batch
	if err := wellFormed(data); err != nil {
		return b, fmt.Errorf("rss: %w: %v", ErrNotFeed, err)
	}
	feed, err := gofeed.NewParser().Parse(bytes.NewReader(data))
	if err != nil {
		return b, fmt.Errorf("rss: %w: %v", ErrNotFeed, err)
	}
	for i, it := range feed.Items {
		if it == nil {
			continue
		}
		pos := monitor.Position{Kind: monitor.RecordItem, Index: int32(i)}
		obs, field, err := parseItem(feed, it, gz, opt)
		if err != nil {
			record := pos.String()
			if id := itemID(it); id != "" {
				record += " (" + monitor.EchoID(id) + ")"
			}
			b.Rejects = append(b.Rejects, monitor.Reject{
				Record: record,
				Pos:    pos,
				Field:  field,
				Err:    err,
				Raw:    monitor.RawRecord([]byte(it.Title + "\n" + it.Link)),
			})
			continue
		}
		for j := range obs { // one per place the item names
			obs[j].Pos = pos
		}
		b.Observations = append(b.Observations, obs...)
	}
	return b, nil
}

// wellFormed checks that an XML feed is well-formed, which gofeed does not:
// it closes mismatched tags as it sees fit, and a mangled feed would then lose
// items silently instead of failing as a whole. HTML entities (&nbsp;), which
// many feeds use undeclared, are allowed; the declared charset is passed
// through, since tags and entities are ASCII in every charset feeds use. JSON
// feeds are left to gofeed.
func wellFormed(data []byte) error {
	if t := bytes.TrimLeft(data, "\ufeff \t\r\n"); len(t) > 0 && t[0] == '{' {
		return nil
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Entity = xml.HTMLEntity
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	for {
		_, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// parseItem turns one item into observations, or names the field at fault.
func parseItem(feed *gofeed.Feed, it *gofeed.Item, gz *gazetteer.Gazetteer, opt Options) ([]monitor.Observation, string, error) {
	id := itemID(it)
	if id == "" {
		id = "sha256:" + hashID(it.Title+"\n"+it.Published)
	}
	t, err := itemTime(it, opt)
	if err != nil {
		return nil, opt.Time, err
	}
	base := monitor.Observation{
		ID:      id,
		Time:    t,
		Revised: parsed(it.UpdatedParsed),
		Kind:    opt.Kind,
		Title:   strings.TrimSpace(it.Title),
		URL:     it.Link,
	}
	// Only the item's own values: a feed-level one (the feed's title, which
	// differs between USGS's day and week feeds) would make an entry re-served
	// unchanged count as updated.
	props := map[string]any{"item_title": base.Title, "link": it.Link}
	if pt, field, ok, err := coordinates(it.Extensions); ok || err != nil {
		if err != nil {
			return nil, field, err
		}
		o := base
		o.Point, o.Precision = pt, monitor.PrecisionExact
		props["geo_field"] = field
		if err := finish(&o, props); err != nil {
			return nil, validationField(err, field), err
		}
		return []monitor.Observation{o}, "", nil
	}
	places := geotag(gz, it, opt)
	if len(places) == 0 {
		return nil, "text", ErrNoPlace
	}
	obs := make([]monitor.Observation, 0, len(places))
	for _, pm := range places {
		o := base
		o.ID = id + "#" + pm.Place.Key()
		o.Point, o.Place, o.Precision = pm.Place.Point, pm.Place.Name, precision(pm.Place.Class)
		props["confidence"] = roundConfidence(pm.Confidence)
		props["matched"] = pm.Text
		props["mentions"] = pm.mentions
		props["place_class"] = pm.Place.Class
		props["country"] = pm.Place.Country
		if err := finish(&o, props); err != nil {
			return nil, validationField(err, "text"), err
		}
		obs = append(obs, o)
	}
	return obs, "", nil
}

// finish sets Properties and normalises and validates o.
func finish(o *monitor.Observation, props map[string]any) error {
	raw, err := json.Marshal(props)
	if err != nil {
		return err
	}
	o.Properties = raw
	o.Normalize()
	return o.Validate()
}

// validationField names the item field behind a failed validation.
func validationField(err error, where string) string {
	var fe *monitor.FieldError
	if !errors.As(err, &fe) {
		return "item"
	}
	switch fe.Field {
	case "id":
		return "guid"
	case "time":
		return "published"
	case "title":
		return "title"
	case "url":
		return "link"
	}
	return where
}

func itemID(it *gofeed.Item) string {
	if id := strings.TrimSpace(it.GUID); id != "" {
		return id
	}
	return strings.TrimSpace(it.Link)
}

func hashID(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:12])
}

// itemTime returns the time opt.Time names: published, else updated (or the
// other way round), else now; or the time in the summary, which an item
// without one is rejected for. The parser leaves a time it cannot read nil,
// so such a time counts as absent.
func itemTime(it *gofeed.Item, opt Options) (time.Time, error) {
	first, second := parsed(it.PublishedParsed), parsed(it.UpdatedParsed)
	switch opt.Time {
	case TimeUpdated:
		first, second = second, first
	case TimeSummary:
		for _, text := range [...]string{it.Description, it.Content} {
			m := opt.TimePattern.FindStringSubmatch(text)
			if m == nil {
				continue
			}
			v := m[0]
			if len(m) > 1 {
				v = m[1]
			}
			v = strings.TrimSpace(v)
			for _, layout := range opt.TimeLayouts {
				if t, err := time.Parse(layout, v); err == nil {
					return t, nil
				}
			}
			return time.Time{}, fmt.Errorf("%w: %q fits none of %q", monitor.ErrBadTime, v, opt.TimeLayouts)
		}
		return time.Time{}, fmt.Errorf("%w: no match of time_pattern %s", monitor.ErrMissing, opt.TimePattern)
	}
	switch {
	case !first.IsZero():
		return first, nil
	case !second.IsZero():
		return second, nil
	}
	return opt.Now, nil
}

func parsed(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// coordinates reads an item's own point: GeoRSS Simple georss:point ("lat
// lon"), GeoRSS GML georss:where/gml:Point/gml:pos ("lat lon" too), or W3C
// Basic Geo geo:lat and geo:long. ok is false when the item has none; err is
// set, with the field, when it has one that is not a point on Earth.
func coordinates(x ext.Extensions) (pt orb.Point, field string, ok bool, err error) {
	if v, found := extValue(x, "georss", "point"); found {
		pt, err := latLon(strings.Fields(v))
		return pt, "georss:point", true, err
	}
	if where, found := x["georss"]["where"]; found && len(where) > 0 {
		for _, p := range where[0].Children["Point"] {
			for _, pos := range p.Children["pos"] {
				pt, err := latLon(strings.Fields(pos.Value))
				return pt, "georss:where", true, err
			}
		}
	}
	lat, hasLat := extValue(x, "geo", "lat")
	lon, hasLon := extValue(x, "geo", "long")
	if hasLat || hasLon {
		pt, err := latLon([]string{lat, lon})
		return pt, "geo:lat", true, err
	}
	return orb.Point{}, "", false, nil
}

func extValue(x ext.Extensions, prefix, name string) (string, bool) {
	if es := x[prefix][name]; len(es) > 0 {
		return strings.TrimSpace(es[0].Value), true
	}
	return "", false
}

// latLon reads a pair of decimal degrees, latitude first as GeoRSS has them.
func latLon(f []string) (orb.Point, error) {
	if len(f) != 2 {
		return orb.Point{}, fmt.Errorf("%w: want \"lat lon\"", monitor.ErrBadValue)
	}
	lat, err1 := strconv.ParseFloat(f[0], 64)
	lon, err2 := strconv.ParseFloat(f[1], 64)
	if err := errors.Join(err1, err2); err != nil {
		return orb.Point{}, fmt.Errorf("%w: %v", monitor.ErrBadValue, err)
	}
	pt := orb.Point{lon, lat}
	return pt, geo.CheckPoint(pt)
}

// placeMatch is a place an item names: its most confident match, and how many
// times the item names it.
type placeMatch struct {
	gazetteer.Match
	mentions int
}

// geotag returns the places an item's title and text name, most confident
// first (then in order of first mention), at most opt.MaxPlacesPerItem.
func geotag(gz *gazetteer.Gazetteer, it *gofeed.Item, opt Options) []placeMatch {
	if gz == nil {
		return nil
	}
	// Lines apart, so that a name cannot run on from one into the next and the
	// Title Case of a headline is judged on its own.
	text := it.Title + "\n" + plainText(it.Description)
	if it.Content != "" && it.Content != it.Description {
		text += "\n" + plainText(it.Content)
	}
	var places []placeMatch
	byKey := make(map[string]int)
	for _, m := range gz.Geotag(text) {
		if m.Confidence < opt.MinConfidence {
			continue
		}
		k := m.Place.Key()
		i, seen := byKey[k]
		if !seen {
			byKey[k] = len(places)
			places = append(places, placeMatch{Match: m, mentions: 1})
			continue
		}
		places[i].mentions++
		if m.Confidence > places[i].Confidence {
			places[i].Match = m
		}
	}
	slices.SortStableFunc(places, func(a, b placeMatch) int { return cmp.Compare(b.Confidence, a.Confidence) })
	return places[:min(len(places), opt.MaxPlacesPerItem)]
}

// precision maps a gazetteer class to the precision of its point. A class the
// config made up is taken as a city: a name locates a report no better than
// that unless we know the place is a point.
func precision(class string) monitor.Precision {
	switch class {
	case gazetteer.ClassFacility, gazetteer.ClassBridge, gazetteer.ClassBorderCrossing:
		return monitor.PrecisionExact
	case gazetteer.ClassRegion:
		return monitor.PrecisionRegion
	case gazetteer.ClassCountry:
		return monitor.PrecisionCountry
	}
	// ClassCity, and ClassBorder: the Russia–North Korea border is 17 km long.
	return monitor.PrecisionCity
}

// roundConfidence keeps three decimals, so that stored properties do not
// change with the last bits of a product of factors.
func roundConfidence(c float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(c, 'f', 3, 64), 64)
	return v
}
