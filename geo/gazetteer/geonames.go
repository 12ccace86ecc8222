package gazetteer

import (
	_ "embed"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/geowatch/geowatch/geo"
	"github.com/paulmach/orb"
)

// The GeoNames extract; data/README.md says where it comes from and how
// data/derive.go made it. Kept as plain TSV (under 1 MB) so that diffs of a
// refresh can be read.
var (
	//go:embed data/cities.tsv
	citiesTSV string
	//go:embed data/countries.tsv
	countriesTSV string
)

// countryAliases are other names of the countries the scenario is about, as
// they appear in news: GeoNames' countryInfo gives only the English short name.
var countryAliases = map[string][]string{
	"RU": {"Russian Federation", "Россия", "Российская Федерация", "러시아", "俄罗斯", "俄羅斯", "ロシア"},
	"KP": {"DPRK", "Democratic People's Republic of Korea", "Северная Корея", "КНДР", "북한", "조선민주주의인민공화국", "朝鲜", "北朝鮮"},
	"KR": {"Republic of Korea", "Южная Корея", "한국", "대한민국", "韩国", "韓国"},
	"CN": {"People's Republic of China", "PRC", "Китай", "중국", "中国", "中國"},
	"JP": {"Япония", "일본", "日本"},
	"US": {"USA", "United States of America", "США", "미국", "美国", "アメリカ"},
	"UA": {"Украина", "우크라이나", "乌克兰", "ウクライナ"},
}

// table is Default's GeoNames data, parsed once and shared read-only by every
// gazetteer Default returns.
type table struct {
	places []Place
	byName map[string][]int // normalised name → indexes, most populous first
	index  index
}

var (
	baseOnce  sync.Once
	baseTable *table
	baseErr   error
)

// Default returns a gazetteer of the built-in scenario places and the bundled
// GeoNames extract: 3,493 cities of RU, KP, KR, CN and JP with 15,000 people or
// more, and 241 countries located at their capitals. The extract is parsed and
// indexed on the first call only (about 100 ms; see data/README.md); later
// calls share it, and Add on one gazetteer does not change the others.
func Default() *Gazetteer {
	baseOnce.Do(func() { baseTable, baseErr = parseBase(citiesTSV, countriesTSV) })
	if baseErr != nil {
		panic(baseErr) // the data is embedded at compile time and tested
	}
	g := Builtin()
	g.base = baseTable
	return g
}

func parseBase(cities, countries string) (*table, error) {
	t := &table{byName: make(map[string][]int)}
	for n, line := range strings.Split(countries, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		// ISO, country, capital, population, geonameid, latitude, longitude.
		f := strings.Split(line, "\t")
		if len(f) != 7 {
			return nil, fmt.Errorf("gazetteer: countries.tsv line %d: %d columns, want 7", n+1, len(f))
		}
		p := Place{Name: f[1], Aliases: countryAliases[f[0]], Country: f[0], Class: ClassCountry}
		if err := parseNumbers(&p, f[3], f[4], f[5], f[6]); err != nil {
			return nil, fmt.Errorf("gazetteer: countries.tsv line %d: %w", n+1, err)
		}
		t.addPlace(p, len(p.Aliases)+1)
	}
	for n, line := range strings.Split(cities, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		// geonameid, name, asciiname, alternatenames, latitude, longitude,
		// feature code, country code, admin1 code, population.
		f := strings.Split(line, "\t")
		if len(f) != 10 {
			return nil, fmt.Errorf("gazetteer: cities.tsv line %d: %d columns, want 10", n+1, len(f))
		}
		p := Place{Name: f[1], Country: f[7], Class: ClassCity, Admin1: f[8]}
		own := 1 // GeoNames' name and ASCII name are the place's own names
		if f[2] != f[1] {
			p.Aliases = append(p.Aliases, f[2])
			own++
		}
		if f[3] != "" {
			p.Aliases = append(p.Aliases, strings.Split(f[3], ",")...)
		}
		if err := parseNumbers(&p, f[9], f[0], f[4], f[5]); err != nil {
			return nil, fmt.Errorf("gazetteer: cities.tsv line %d: %w", n+1, err)
		}
		t.addPlace(p, own)
	}
	// Most populous first, so that Lookup returns the likeliest place.
	for _, ids := range t.byName {
		slices.SortStableFunc(ids, func(a, b int) int { return t.places[b].Population - t.places[a].Population })
	}
	return t, nil
}

// addPlace adds p to t. Its first own names (of Name, then Aliases) are the
// place's own; the rest are looser alternate names (old spellings, other
// languages), which Geotag treats with more suspicion.
func (t *table) addPlace(p Place, own int) {
	i := len(t.places)
	t.places = append(t.places, p)
	for j, n := range append([]string{p.Name}, p.Aliases...) {
		if k := Normalize(n); k != "" && !slices.Contains(t.byName[k], i) {
			t.byName[k] = append(t.byName[k], i)
		}
		t.index.add(n, int32(i), j < own)
	}
}

func parseNumbers(p *Place, population, id, lat, lon string) error {
	var err error
	if p.Population, err = strconv.Atoi(population); err != nil {
		return fmt.Errorf("population: %w", err)
	}
	if p.GeonameID, err = strconv.Atoi(id); err != nil {
		return fmt.Errorf("geonameid: %w", err)
	}
	y, err := strconv.ParseFloat(lat, 64)
	if err != nil {
		return fmt.Errorf("latitude: %w", err)
	}
	x, err := strconv.ParseFloat(lon, 64)
	if err != nil {
		return fmt.Errorf("longitude: %w", err)
	}
	p.Point = orb.Point{x, y}
	if err := geo.CheckPoint(p.Point); err != nil {
		return fmt.Errorf("%s: %w", p.Name, err)
	}
	return nil
}
