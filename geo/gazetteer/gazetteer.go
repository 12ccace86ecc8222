// Package gazetteer resolves place names to coordinates and finds them in free
// text. Builtin holds the places of geowatch's reference scenario; Default adds
// a bundled GeoNames extract (the cities of Russia, North Korea, South Korea,
// China and Japan with 15,000 people or more, and the world's countries); the
// config adds its own places with Add. Geotag finds the names of all of them in
// text, in English, Russian, Korean, Chinese or Japanese.
//
// It imports geo, orb and golang.org/x/text only.
package gazetteer

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/geowatch/geowatch/geo"
	"github.com/paulmach/orb"
	"golang.org/x/text/unicode/norm"
)

// Classes of place. A source maps them to an observation's precision: a city
// or town locates a report to the city, a country or region to that area, and
// a facility, bridge, border crossing or border (the Russia–North Korea border
// is 17 km long) to the point itself.
const (
	ClassCity           = "city"
	ClassRegion         = "region"
	ClassCountry        = "country"
	ClassFacility       = "facility"
	ClassBridge         = "bridge"
	ClassBorderCrossing = "border_crossing"
	ClassBorder         = "border"
)

// Place is a named location.
type Place struct {
	Name       string
	Aliases    []string
	Point      orb.Point // lon, lat; a country's is its capital's
	Country    string    // ISO 3166-1 alpha-2
	Class      string    // one of the Class constants, or the config's own
	Population int
	// GeonameID is the place's id at geonames.org; zero for places not from
	// GeoNames.
	GeonameID int
	// Admin1 is GeoNames' first-level administrative division code ("59" is
	// Primorsky Krai); empty for places not from GeoNames.
	Admin1 string
}

// Key returns a stable identifier of the place for building record ids:
// "geonames:2013348" for a place with a GeoNames id, else its normalised name
// with spaces as underscores ("khasan-tumangang_rail_bridge").
func (p Place) Key() string {
	if p.GeonameID != 0 {
		return "geonames:" + strconv.Itoa(p.GeonameID)
	}
	return strings.ReplaceAll(Normalize(p.Name), " ", "_")
}

// Gazetteer looks places up by name or alias, case-insensitively, and finds
// their names in text. The zero value is empty and ready to use. Lookup and
// Geotag may be called concurrently, but not concurrently with Add.
type Gazetteer struct {
	places []Place
	byName map[string][]int // normalised name → indexes into places, last added first
	index  index            // the names of places, for Geotag
	// base is the shared, read-only GeoNames table of Default; nil otherwise.
	// Places added with Add take precedence over it.
	base *table
}

// Builtin returns a gazetteer of the reference scenario's places: Vladivostok,
// the Khasan–Tumangang border crossing and its stations and bridge, the
// Russia–North Korea border, and the other places of ../shared/scenario
// (coordinates approximate, WGS 84).
func Builtin() *Gazetteer {
	g := &Gazetteer{}
	for _, p := range builtin {
		if err := g.Add(p); err != nil {
			panic(err) // the built-in list is fixed at compile time and tested
		}
	}
	return g
}

var builtin = []Place{
	{Name: "Vladivostok", Aliases: []string{"Владивосток"}, Point: orb.Point{131.8855, 43.1155}, Country: "RU", Class: ClassCity, Population: 604901, GeonameID: 2013348, Admin1: "59"},
	{Name: "Khasan–Tumangang border crossing", Aliases: []string{"Khasan-Tumangang", "Khasan–Tumangang", "Khasan-Tumangang crossing", "Khasan–Tumangang crossing", "Khasan-Tumangang border crossing", "Khasan border crossing"}, Point: orb.Point{130.6400, 42.4250}, Country: "RU", Class: ClassBorderCrossing},
	{Name: "Khasan", Aliases: []string{"Хасан"}, Point: orb.Point{130.6400, 42.4300}, Country: "RU", Class: ClassBorderCrossing, Population: 742},
	{Name: "Tumangang", Aliases: []string{"Tumangang station", "두만강"}, Point: orb.Point{130.6200, 42.3500}, Country: "KP", Class: ClassBorderCrossing},
	{Name: "Khasan–Tumangang rail bridge", Aliases: []string{"Friendship Bridge", "Khasan-Tumangang rail bridge", "Korea-Russia Friendship Bridge"}, Point: orb.Point{130.6460, 42.4180}, Country: "RU", Class: ClassBridge},
	// The land border is the 17 km of the Tumen river below Khasan, so the bridge
	// in its middle stands for all of it.
	{Name: "Russia–North Korea border", Aliases: []string{"North Korea–Russia border", "Russian–North Korean border", "North Korean–Russian border", "Russia–DPRK border"}, Point: orb.Point{130.6460, 42.4180}, Country: "RU", Class: ClassBorder},
	{Name: "Vostochny Cosmodrome", Aliases: []string{"Vostochny", "Космодром Восточный"}, Point: orb.Point{128.3340, 51.8840}, Country: "RU", Class: ClassFacility},
	{Name: "Ussuriysk", Aliases: []string{"Уссурийск"}, Point: orb.Point{131.9520, 43.7970}, Country: "RU", Class: ClassCity, Population: 173824, GeonameID: 2014006, Admin1: "59"},
	{Name: "Pyongyang", Aliases: []string{"평양"}, Point: orb.Point{125.7625, 39.0392}, Country: "KP", Class: ClassCity, Population: 3222000, GeonameID: 1871859},
}

// Add adds p under its name and aliases. A later place with a name already known
// is preferred over the earlier one, so places from the config override built-ins;
// places added are preferred over Default's GeoNames places of the same name.
func (g *Gazetteer) Add(p Place) error {
	if strings.TrimSpace(p.Name) == "" {
		return fmt.Errorf("gazetteer: place with no name")
	}
	if err := geo.CheckPoint(p.Point); err != nil {
		return fmt.Errorf("gazetteer: place %q: %w", p.Name, err)
	}
	if g.byName == nil {
		g.byName = make(map[string][]int)
	}
	i := len(g.places)
	g.places = append(g.places, p)
	for _, n := range append([]string{p.Name}, p.Aliases...) {
		k := Normalize(n)
		if k == "" {
			continue
		}
		g.byName[k] = append([]int{i}, g.byName[k]...)
		g.index.add(n, int32(i), true)
	}
	return nil
}

// Lookup returns the place called name (or with that alias). Among places that
// share a name, the one added last wins, then Default's most populous.
func (g *Gazetteer) Lookup(name string) (Place, bool) {
	k := Normalize(name)
	if ids := g.byName[k]; len(ids) > 0 {
		return g.places[ids[0]], true
	}
	if g.base != nil {
		if ids := g.base.byName[k]; len(ids) > 0 {
			return g.base.places[ids[0]], true
		}
	}
	return Place{}, false
}

// Len returns the number of places: those added and Default's.
func (g *Gazetteer) Len() int {
	n := len(g.places)
	if g.base != nil {
		n += len(g.base.places)
	}
	return n
}

// Normalize folds a name for matching: Unicode NFKC, lower case, every dash
// written as "-", and runs of white space as one space.
func Normalize(s string) string {
	s = strings.ToLower(norm.NFKC.String(s))
	s = strings.Map(func(r rune) rune {
		switch r {
		case '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2212':
			return '-'
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// All calls yield with every place, those added first, until yield returns
// false: for callers that look places up by position, such as the places
// along a corridor.
func (g *Gazetteer) All(yield func(Place) bool) {
	for _, p := range g.places {
		if !yield(p) {
			return
		}
	}
	if g.base != nil {
		for _, p := range g.base.places {
			if !yield(p) {
				return
			}
		}
	}
}
