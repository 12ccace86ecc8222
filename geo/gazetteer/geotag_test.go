package gazetteer

import (
	"errors"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/paulmach/orb"
)

// article is the reference scenario's news report, seen from this package.
const article = "../../../shared/scenario/article.txt"

func readArticle(tb testing.TB) string {
	tb.Helper()
	data, err := os.ReadFile(article)
	if errors.Is(err, os.ErrNotExist) {
		tb.Skipf("reference article %s absent (expected at ../shared/scenario/article.txt from the repository root)", article)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return string(data)
}

func TestGeotagArticle(t *testing.T) {
	text := readArticle(t)
	got := make(map[string]Match) // by place name: the most confident mention
	for _, m := range Default().Geotag(text) {
		if m.Confidence > got[m.Place.Name].Confidence {
			got[m.Place.Name] = m
		}
	}
	// The article names Vladivostok and "the Russian-North Korean border", not
	// Khasan or Tumangang; the countries it names are places too.
	for _, tc := range []struct {
		name, text string
		conf       float64
	}{
		{"Vladivostok", "Vladivostok", 0.95},
		{"Russia–North Korea border", "Russian-North Korean border", 0.95},
		{"Russia", "Russia", 0.85},
		{"North Korea", "North Korea", 0.85},
		{"South Korea", "South Korea", 0.85},
		{"United States", "United States", 0.85},
		{"Ukraine", "Ukraine", 0.85},
	} {
		m, ok := got[tc.name]
		if !ok {
			t.Errorf("article: %s not found", tc.name)
			continue
		}
		if m.Text != tc.text || !close(m.Confidence, tc.conf) {
			t.Errorf("article: %s as %q conf %.3f, want %q conf %.3f", tc.name, m.Text, m.Confidence, tc.text, tc.conf)
		}
		delete(got, tc.name)
	}
	// "President Vladimir Putin" names the city of Vladimir only by chance.
	if m, ok := got["Vladimir"]; ok && m.Confidence >= 0.5 {
		t.Errorf("article: Vladimir (from %q) conf %.3f, want < 0.5", m.Text, m.Confidence)
	}
	delete(got, "Vladimir")
	for name, m := range got {
		t.Errorf("article: unexpected %s from %q", name, m.Text)
	}
	if p := got["Vladivostok"].Place; p.Class != "" && p.Point != (orb.Point{131.8855, 43.1155}) {
		t.Errorf("Vladivostok at %v, want the scenario's point", p.Point)
	}
}

func close(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

func TestGeotag(t *testing.T) {
	g := Default()
	for _, tc := range []struct {
		name, text string
		want       []string // "matched text=place name (country)"
	}{
		{"longest match", "Trains cross the Khasan–Tumangang rail bridge daily.", []string{"Khasan–Tumangang rail bridge=Khasan–Tumangang rail bridge (RU)"}},
		{"shorter name alone", "Trains stop at Khasan.", []string{"Khasan=Khasan (RU)"}},
		{"hyphen", "The Khasan-Tumangang crossing reopened.", []string{"Khasan-Tumangang crossing=Khasan–Tumangang border crossing (RU)"}},
		{"em dash and spaces", "The Khasan — Tumangang crossing reopened.", []string{"Khasan — Tumangang crossing=Khasan–Tumangang border crossing (RU)"}},
		{"Unicode hyphen", "The Khasan‐Tumangang rail bridge.", []string{"Khasan‐Tumangang rail bridge=Khasan–Tumangang rail bridge (RU)"}},
		{"no run-on across sentences", "Kim left Khasan. Tumangang was next.", []string{"Khasan=Khasan (RU)", "Tumangang=Tumangang (KP)"}},
		{"Cyrillic", "Полиция во Владивостоке и Владивосток.", []string{"Владивосток=Vladivostok (RU)"}},
		{"Cyrillic GeoNames", "Поезд из Уссурийска в Находка.", []string{"Находка=Nakhodka (RU)"}},
		{"possessive", "Russia's far east and Russia’s Pacific coast", []string{"Russia=Russia (RU)", "Russia=Russia (RU)"}},
		{"lower case", "flights to vladivostok", []string{"vladivostok=Vladivostok (RU)"}},
		{"Chinese", "金正恩抵达海参崴。", []string{"海参崴=Vladivostok (RU)"}},
		{"Korean with particle", "김정은 블라디보스토크에서", []string{"블라디보스토크=Vladivostok (RU)"}},
		{"Japanese", "ウラジオストクで会談", []string{"ウラジオストク=Vladivostok (RU)"}},
		{"ambiguity: population", "Snow fell on Fuji.", []string{"Fuji=Fuji (JP)"}},
		{"ambiguity: country named", "In China, snow fell on Fuji.", []string{"China=China (CN)", "Fuji=Fuji (CN)"}},
		{"common word at sentence start", "Marks were left. She said more.", nil},
		{"common word in lower case", "he marks the date; she will buy more", nil},
		{"common word mid-sentence, capitalised", "The train reached Marks at noon.", []string{"Marks=Marks (RU)"}},
		{"common word in a Title Case line", "More Police Seen On Streets Ahead Of Visit", nil},
		{"common alternate name", "The Soul of Asia, said the Leader on a Mobile visit in March.", nil},
		{"two-letter name", "Pa and Ho went to Cu.", nil},
		{"Nan and Hai", "Nan went to Hai.", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, m := range g.Geotag(tc.text) {
				got = append(got, m.Text+"="+m.Place.Name+" ("+m.Place.Country+")")
			}
			if strings.Join(got, "; ") != strings.Join(tc.want, "; ") {
				t.Errorf("Geotag(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
}

func TestGeotagConfigPlaceWins(t *testing.T) {
	g := Default()
	// GeoNames has a Nakhodka of 150,000; a config place of the same name wins.
	port := Place{Name: "Nakhodka", Point: orb.Point{132.9, 42.8}, Country: "RU", Class: ClassFacility}
	if err := g.Add(port); err != nil {
		t.Fatal(err)
	}
	ms := g.Geotag("Tankers wait off Nakhodka.")
	if len(ms) != 1 || ms[0].Place.Class != ClassFacility || !close(ms[0].Confidence, 0.95) {
		t.Fatalf("Geotag = %+v, want the config's Nakhodka with confidence 0.95", ms)
	}
	// Other gazetteers share the GeoNames data but not the config's places.
	if p, _ := Default().Lookup("Nakhodka"); p.Class != ClassCity {
		t.Errorf("Default().Lookup(Nakhodka).Class = %q, want %q", p.Class, ClassCity)
	}
}

func TestGeotagConfidence(t *testing.T) {
	g := Default()
	for _, tc := range []struct {
		text string
		want float64
	}{
		{"Kim arrived in Vladivostok.", 0.95},
		{"kim arrived in VLADIVOSTOK.", 0.95 * confCaseFolded},
		{"Artem is near.", 0.85}, // the ASCII name of Artëm
		{"Artëm is near.", 0.85},
		{"Ussurisk is near.", 0},            // not a name of Ussuriysk
		{"Snow on Fuji.", 0.85 * confByPop}, // two Fujis, no context
		{"Trains reached Marks on time.", 0.85 * confCommon},
		{"金正恩抵达海参崴", 0.85 * confUnbounded},
		{"a talk with President Vladimir Putin on Monday", 0.85 * confNameRun},
		{"President Vladimir Putin", 0.85}, // a Title Case line says nothing
	} {
		ms := g.Geotag(tc.text)
		var got float64
		if len(ms) > 0 {
			got = ms[len(ms)-1].Confidence
		}
		if !close(got, tc.want) {
			t.Errorf("Geotag(%q) confidence = %.4f, want %.4f (%+v)", tc.text, got, tc.want, ms)
		}
	}
}

func TestDefault(t *testing.T) {
	g := Default()
	if got, want := g.Len(), len(builtin)+3493+241; got != want {
		t.Errorf("Default().Len() = %d, want %d", got, want)
	}
	for _, tc := range []struct{ name, want, country, class string }{
		{"Vladivostok", "Vladivostok", "RU", ClassCity},
		{"Rajin", "Rajin", "KP", ClassCity},
		{"Sonbong", "Sŏnbong", "KP", ClassCity},
		{"North Korea", "North Korea", "KP", ClassCountry},
		{"КНДР", "North Korea", "KP", ClassCountry},
		{"Nakhodka", "Nakhodka", "RU", ClassCity},
	} {
		p, ok := g.Lookup(tc.name)
		if !ok || p.Name != tc.want || p.Country != tc.country || p.Class != tc.class {
			t.Errorf("Lookup(%q) = %q %s %s, %v; want %q %s %s", tc.name, p.Name, p.Country, p.Class, ok, tc.want, tc.country, tc.class)
		}
	}
	if _, ok := Builtin().Lookup("Nakhodka"); ok {
		t.Error("Builtin() knows Nakhodka; want the scenario's places only")
	}
}

func TestPlaceKey(t *testing.T) {
	g := Default()
	for _, tc := range []struct{ name, want string }{
		{"Vladivostok", "geonames:2013348"},
		{"Khasan–Tumangang rail bridge", "khasan-tumangang_rail_bridge"},
		{"Russia", "geonames:2017370"},
	} {
		p, _ := g.Lookup(tc.name)
		if got := p.Key(); got != tc.want {
			t.Errorf("Lookup(%q).Key() = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func FuzzGeotag(f *testing.F) {
	for _, s := range []string{
		"Khasan–Tumangang rail bridge", "Russia’s far east", "金正恩抵达海参崴。", "블라디보스토크에서",
		"St. Petersburg", "Vladimir Putin", "Marks. Marks", "\xffВлад\xe2\x80", "Ｖｌａｄｉｖｏｓｔｏｋ",
	} {
		f.Add(s)
	}
	if data, err := os.ReadFile(article); err == nil {
		f.Add(string(data))
	}
	g := Default()
	f.Fuzz(func(t *testing.T, text string) {
		end := 0
		for _, m := range g.Geotag(text) {
			if m.Start < end || m.End <= m.Start || m.End > len(text) {
				t.Fatalf("match %q at [%d, %d) after %d in %d bytes", m.Text, m.Start, m.End, end, len(text))
			}
			if m.Text != text[m.Start:m.End] {
				t.Fatalf("match text %q != text[%d:%d] %q", m.Text, m.Start, m.End, text[m.Start:m.End])
			}
			if !(m.Confidence > 0 && m.Confidence <= 1) {
				t.Fatalf("match %q confidence %v", m.Text, m.Confidence)
			}
			if utf8.ValidString(text) && !utf8.ValidString(m.Text) {
				t.Fatalf("match %q splits a character", m.Text)
			}
			end = m.End
		}
	})
}

func BenchmarkGeotag(b *testing.B) {
	text := readArticle(b)
	g := Default()
	b.SetBytes(int64(len(text)))
	n := 0
	for b.Loop() {
		g.Geotag(text)
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "texts/s")
}

// BenchmarkDefaultLoad measures parsing and indexing the embedded GeoNames
// data, which Default does once per process.
func BenchmarkDefaultLoad(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseBase(citiesTSV, countriesTSV); err != nil {
			b.Fatal(err)
		}
	}
}
