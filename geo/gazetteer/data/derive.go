//go:build ignore

// Derive writes the gazetteer's embedded GeoNames extract from the GeoNames
// dumps in ../shared/data/geonames (see README.md beside this file):
//
//	cd geo/gazetteer/data && go run derive.go ../../../../shared/data/geonames
//
// It writes cities.tsv (the cities15000 rows of RU, KP, KR, CN and JP, cut to the
// columns and alternate names the geotagger uses) and countries.tsv (every
// country of countryInfo.txt whose capital is in cities15000.txt, located at it).
package main

import (
	"bufio"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: go run derive.go GEONAMES_DIR")
	}
	dir := os.Args[1]
	if err := writeCities(filepath.Join(dir, "cities15000_RU_KP_KR_CN_JP.txt"), "cities.tsv"); err != nil {
		log.Fatal(err)
	}
	if err := writeCountries(filepath.Join(dir, "countryInfo.txt"), filepath.Join(dir, "cities15000.txt"), "countries.tsv"); err != nil {
		log.Fatal(err)
	}
}

// cities15000 columns, 0-based.
const (
	colID = iota
	colName
	colASCII
	colAlternates
	colLat
	colLon
	colFeatureClass
	colFeatureCode
	colCountry
	colCC2
	colAdmin1
	colAdmin2
	colAdmin3
	colAdmin4
	colPopulation
)

func writeCities(in, out string) error {
	rows, err := readTSV(in)
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("# geonameid\tname\tasciiname\talternatenames\tlatitude\tlongitude\tfeature code\tcountry code\tadmin1 code\tpopulation\n")
	for _, f := range rows {
		if len(f) < 19 {
			return fmt.Errorf("%s: row %q: %d columns, want 19", in, f[0], len(f))
		}
		alts := keepAlternates(f[colName], f[colASCII], strings.Split(f[colAlternates], ","))
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			f[colID], f[colName], f[colASCII], strings.Join(alts, ","), f[colLat], f[colLon],
			f[colFeatureCode], f[colCountry], f[colAdmin1], f[colPopulation])
	}
	log.Printf("%s: %d cities", out, len(rows))
	return os.WriteFile(out, []byte(b.String()), 0o644)
}

// keepAlternates keeps the alternate names that can occur in English, Russian,
// Korean, Chinese or Japanese text: names written wholly in the Latin, Cyrillic,
// Hangul, Han, Hiragana or Katakana scripts. It drops airport codes (IATA,
// ICAO: all capitals, at most four letters), links, names with digits or
// brackets, names equal to the name or ASCII name, and Latin names wholly in
// lower case: GeoNames adds those as machine romanisations of other scripts
// ("hai can wai", "urajiosutoku"); real names are capitalised.
func keepAlternates(name, ascii string, alts []string) []string {
	seen := map[string]bool{name: true, ascii: true}
	var kept []string
	for _, a := range alts {
		a = strings.TrimSpace(a)
		if a == "" || seen[a] || strings.Contains(a, "://") || isCode(a) || isLowerLatin(a) || !usableScript(a) {
			continue
		}
		seen[a] = true
		kept = append(kept, a)
	}
	sort.Strings(kept)
	return kept
}

func isCode(s string) bool {
	if len(s) > 4 {
		return false
	}
	for _, r := range s {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

func isLowerLatin(s string) bool {
	for _, r := range s {
		if unicode.IsUpper(r) || !unicode.In(r, unicode.Latin, unicode.Zs, unicode.Pd, unicode.Po, unicode.Mn) {
			return false
		}
	}
	return true
}

var scripts = []*unicode.RangeTable{unicode.Latin, unicode.Cyrillic, unicode.Hangul, unicode.Han, unicode.Hiragana, unicode.Katakana}

func usableScript(s string) bool {
	for _, r := range s {
		switch {
		case r == ' ' || r == '-' || r == '\'' || r == '’' || r == '.' || r == 'ー' || r == '・':
		case unicode.Is(unicode.Mn, r):
		case unicode.In(r, scripts...):
		default:
			return false
		}
	}
	return true
}

func writeCountries(info, cities, out string) error {
	// Capitals: the PPLC row of each country in the worldwide cities15000.
	rows, err := readTSV(cities)
	if err != nil {
		return err
	}
	type point struct{ lat, lon string }
	capitals := make(map[string]point)
	for _, f := range rows {
		if len(f) >= 19 && f[colFeatureCode] == "PPLC" {
			capitals[f[colCountry]] = point{f[colLat], f[colLon]}
		}
	}
	rows, err = readTSV(info)
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("# ISO\tcountry\tcapital\tpopulation\tgeonameid\tlatitude\tlongitude (of the capital)\n")
	var missing []string
	n := 0
	for _, f := range rows {
		// countryInfo: ISO, ISO3, ISO-Numeric, fips, Country, Capital, Area, Population, ..., geonameid (16).
		if len(f) < 17 {
			return fmt.Errorf("%s: row %q: %d columns", info, f[0], len(f))
		}
		p, ok := capitals[f[0]]
		if !ok {
			missing = append(missing, f[0])
			continue
		}
		n++
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f[0], f[4], f[5], f[7], f[16], p.lat, p.lon)
	}
	log.Printf("%s: %d countries; without a capital in cities15000: %s", out, n, strings.Join(missing, " "))
	return os.WriteFile(out, []byte(b.String()), 0o644)
}

// readTSV reads a GeoNames dump, skipping '#' comment lines.
func readTSV(path string) ([][]string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	var rows [][]string
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 0, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		rows = append(rows, strings.Split(line, "\t"))
	}
	return rows, sc.Err()
}
