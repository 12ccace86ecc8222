package gazetteer

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Match is a place name found in text by Geotag.
type Match struct {
	Place Place
	// Text is the name as written: text[Start:End].
	Text string
	// Start and End are byte offsets into the text.
	Start, End int
	// Confidence, in (0, 1], is how sure Geotag is that Text names Place; see
	// Geotag for the formula.
	Confidence float64
}

// Confidence factors of Geotag's formula.
const (
	confAdded      = 0.95 // a place added by the config or built in
	confGeoNames   = 0.85 // a GeoNames city or country
	confCaseFolded = 0.9  // the text differs from the name in case only
	confFolded     = 0.8  // … or also in accents, width or other compatibility forms
	confByContext  = 0.9  // several places share the name; the country named elsewhere decided
	confByPop      = 0.75 // … the larger population decided
	confCommon     = 0.7  // the name is also a common word, or at most three letters
	confUnbounded  = 0.8  // CJK name run on into other CJK characters
	confNameRun    = 0.5  // GeoNames name followed by a capitalised word: "Vladimir Putin"
)

// Geotag finds the names of the gazetteer's places in text and returns them
// in text order, without overlaps. It is linear in the length of text.
//
// Names match whole words, case-insensitively and ignoring accents, with any
// dash, apostrophe or up to three spaces between their words ("Khasan –
// Tumangang" matches "Khasan–Tumangang"); "Russia's" and "Russia’s" match
// Russia. Chinese, Japanese and Korean text is matched character by character,
// since it has no spaces between words (and Korean attaches particles to
// them): a CJK name matches anywhere in a run of CJK text. At each word the
// longest name wins, so "Khasan–Tumangang rail bridge" is one match, not
// Khasan.
//
// Guards against common words: names of one or two letters (Latin or
// Cyrillic) and single CJK characters are never matched. Names of three
// letters and names that are also common English words ("Date", "Marks",
// "Saga": see stopWords) match only as written, capitalised, not at the start
// of a sentence, and not in a line in Title Case, where capitals say nothing.
// Alternate names that are common words ("More" for Mori, "Soul" for Seoul)
// are not matched at all.
//
// When several places share the matched name, the place added by Add (the
// config, or the built-in scenario places) wins, the last added first; then a
// place in a country that the text names elsewhere; then the larger
// population.
//
// Confidence is the product of:
//   - 0.95 for a place added by Add, 0.85 for a GeoNames city or country;
//   - 1 if the text is written exactly as a name of the place, 0.9 if it
//     differs in case only, 0.8 if also in accents or compatibility forms;
//   - 1 if only one place (of the winning kind) has the name, 0.9 if the
//     country named elsewhere decided, 0.75 if the population did;
//   - 0.7 for a common-word or three-letter name;
//   - 0.8 for a CJK name inside a longer run of CJK characters;
//   - 0.5 for a GeoNames name directly followed by a capitalised word that
//     names no place, outside Title Case lines: it is likely part of a
//     person's or an organisation's name ("President Vladimir Putin").
func (g *Gazetteer) Geotag(text string) []Match {
	toks, lines := tokenize(text, true)
	if len(toks) == 0 {
		return nil
	}
	var spans []span
	var cands []candidate
	indexes := g.indexes()
	for i := 0; i < len(toks); {
		n := 0
		cands = cands[:0]
		for tier, idx := range indexes {
			for _, ph := range idx.phrases[toks[i].key] {
				if len(ph.keys) < n {
					break // longest first: nothing longer left in this index
				}
				if !ph.matches(text, toks, i) {
					continue
				}
				for _, f := range ph.forms {
					if f.common && !commonOK(text, toks, lines, i, f) {
						continue
					}
					if len(ph.keys) > n {
						n, cands = len(ph.keys), cands[:0]
					}
					cands = append(cands, candidate{tier: tier, form: f})
				}
			}
		}
		if n == 0 {
			i++
			continue
		}
		spans = append(spans, span{first: i, last: i + n - 1, cands: slices.Clone(cands)})
		i += n
	}
	if len(spans) == 0 {
		return nil
	}
	return g.resolve(text, toks, lines, spans)
}

// span is a run of tokens that names one or more places.
type span struct {
	first, last int // token indexes, inclusive
	cands       []candidate
}

type candidate struct {
	tier int // 0: added (config, built-in), 1: Default's GeoNames
	form *form
}

// indexes returns the indexes to search, by tier.
func (g *Gazetteer) indexes() []*index {
	if g.base == nil {
		return []*index{&g.index}
	}
	return []*index{&g.index, &g.base.index}
}

func (g *Gazetteer) place(tier int, i int32) *Place {
	if tier == 0 {
		return &g.places[i]
	}
	return &g.base.places[i]
}

// resolve picks each span's place and scores it.
func (g *Gazetteer) resolve(text string, toks []token, lines []lineStats, spans []span) []Match {
	// Keep each span's best tier, and count the spans that name each country.
	named := make(map[string]int)
	for s := range spans {
		c := spans[s].cands
		tier := c[0].tier
		for _, x := range c {
			tier = min(tier, x.tier)
		}
		spans[s].cands = slices.DeleteFunc(c, func(x candidate) bool { return x.tier != tier })
		if cc := spanCountry(g, spans[s]); cc != "" {
			named[cc]++
		}
	}
	matches := make([]Match, 0, len(spans))
	for k, s := range spans {
		start, end := toks[s.first].start, toks[s.last].end
		tier := s.cands[0].tier
		inContext := func(p *Place) bool {
			n := named[p.Country]
			if spanCountry(g, s) == p.Country {
				n-- // a country does not vouch for itself
			}
			return n > 0
		}
		// Pick the place, and how sure that choice is.
		var ids []int32
		for _, x := range s.cands {
			if !slices.Contains(ids, x.form.place) {
				ids = append(ids, x.form.place)
			}
		}
		best, ambiguity := slices.Max(ids), 1.0 // among added places, the last added wins, as in Lookup
		if tier != 0 && len(ids) > 1 {
			slices.SortFunc(ids, func(a, b int32) int {
				pa, pb := g.place(tier, a), g.place(tier, b)
				if ca, cb := inContext(pa), inContext(pb); ca != cb {
					if ca {
						return -1
					}
					return 1
				}
				if pa.Population != pb.Population {
					return pb.Population - pa.Population
				}
				return int(a - b)
			})
			best, ambiguity = ids[0], confByPop
			if inContext(g.place(tier, ids[0])) && !inContext(g.place(tier, ids[1])) {
				ambiguity = confByContext
			}
		}
		// Score the best way the text writes one of the place's names.
		written := 0.0
		for _, x := range s.cands {
			if x.form.place == best {
				written = max(written, x.form.score(text, toks[s.first:s.last+1]))
			}
		}
		conf := confGeoNames
		if tier == 0 {
			conf = confAdded
		}
		conf *= written * ambiguity
		if (s.first > 0 && adjacentCJK(toks[s.first-1], toks[s.first])) ||
			(s.last+1 < len(toks) && adjacentCJK(toks[s.last], toks[s.last+1])) {
			conf *= confUnbounded
		}
		if next := s.last + 1; tier != 0 && next < len(toks) && (k+1 == len(spans) || spans[k+1].first != next) &&
			capitalisedAfter(text, toks[s.last], toks[next]) && !lines[toks[next].line].titleCase() {
			conf *= confNameRun
		}
		matches = append(matches, Match{
			Place:      *g.place(tier, best),
			Text:       text[start:end],
			Start:      start,
			End:        end,
			Confidence: conf,
		})
	}
	return matches
}

// spanCountry returns the country a span names, if one of its places is a
// country.
func spanCountry(g *Gazetteer, s span) string {
	for _, x := range s.cands {
		if p := g.place(x.tier, x.form.place); p.Class == ClassCountry {
			return p.Country
		}
	}
	return ""
}

// capitalisedAfter reports whether b is a capitalised word that follows a
// after a single space, in the same phrase.
func capitalisedAfter(text string, a, b token) bool {
	if gap := text[a.end:b.start]; gap != " " && gap != "\u00a0" {
		return false
	}
	r, _ := utf8.DecodeRuneInString(text[b.start:])
	return unicode.IsUpper(r)
}

func adjacentCJK(a, b token) bool { return a.cjk && b.cjk && a.end == b.start }

// index finds names by their first word.
type index struct {
	phrases map[string][]*phrase // first token's key → phrases, longest first
	byKeys  map[string]*phrase   // all keys joined by NUL → phrase
}

// phrase is a sequence of token keys and the names that fold to it.
type phrase struct {
	keys  []string
	forms []*form
}

// form is one name of one place.
type form struct {
	place  int32
	words  []string // the name's tokens as written
	common bool     // a common word or three letters: see Geotag
}

// stopWords are single-word names that are also common English words. Those
// found in the bundled data are those of its names that are lower-case words
// in Debian's wamerican word list, less famous names (Shanghai, Perm,
// Astrakhan); the rest are guards for places the config may add.
var stopWords = map[string]bool{
	"archangel": true, "bole": true, "buy": true, "canton": true, "chi": true, "chin": true,
	"chinking": true, "chino": true, "date": true, "dosing": true, "fowling": true, "gay": true,
	"grants": true, "gums": true, "hang": true, "honcho": true, "jingling": true, "kin": true,
	"lien": true, "lupin": true, "manning": true, "marks": true, "mien": true, "mile": true,
	"more": true, "newel": true, "ocher": true, "saga": true, "shaping": true, "she": true,
	"shush": true, "sim": true, "sing": true, "skit": true, "sol": true, "soul": true,
	"sue": true, "tan": true, "tango": true, "ting": true, "wan": true, "wen": true,
	// Not in the data, but words news capitalises.
	"asia": true, "bo": true, "hai": true, "kami": true, "leader": true, "march": true,
	"mi": true, "mobile": true, "nan": true, "police": true, "visit": true,
}

// add indexes name as a name of place; own says whether it is one of the
// place's own names rather than a looser alternate name.
func (x *index) add(name string, place int32, own bool) {
	toks, _ := tokenize(name, false)
	if len(toks) == 0 {
		return
	}
	f := &form{place: place, words: make([]string, len(toks))}
	keys := make([]string, len(toks))
	for i, t := range toks {
		f.words[i], keys[i] = name[t.start:t.end], t.key
	}
	if len(toks) == 1 {
		switch n := utf8.RuneCountInString(f.words[0]); {
		case toks[0].cjk, n <= 2, isDigits(keys[0]):
			return
		case stopWords[keys[0]] && !own:
			return
		case stopWords[keys[0]], n == 3:
			f.common = true
		}
	}
	if x.phrases == nil {
		x.phrases = make(map[string][]*phrase)
		x.byKeys = make(map[string]*phrase)
	}
	joined := strings.Join(keys, "\x00")
	ph := x.byKeys[joined]
	if ph == nil {
		ph = &phrase{keys: keys}
		x.byKeys[joined] = ph
		list := append(x.phrases[keys[0]], ph)
		slices.SortStableFunc(list, func(a, b *phrase) int { return len(b.keys) - len(a.keys) })
		x.phrases[keys[0]] = list
	}
	for _, g := range ph.forms {
		if g.place == place && slices.Equal(g.words, f.words) {
			return
		}
	}
	ph.forms = append(ph.forms, f)
}

func isDigits(s string) bool {
	return strings.TrimFunc(s, unicode.IsDigit) == ""
}

// matches reports whether the phrase's keys follow from toks[i] on, with only
// light separators between them.
func (ph *phrase) matches(text string, toks []token, i int) bool {
	if i+len(ph.keys) > len(toks) {
		return false
	}
	for j := 1; j < len(ph.keys); j++ {
		a, b := toks[i+j-1], toks[i+j]
		if b.key != ph.keys[j] || !lightGap(text[a.start:a.end], text[a.end:b.start]) {
			return false
		}
	}
	return true
}

// lightGap reports whether gap, between the words prev and the next, can
// separate the words of one name: white space (not a line break), dashes and
// apostrophes, at most three of them; a full stop only after an abbreviation
// of up to three letters ("St. Petersburg"), so that a name does not run on
// across sentences.
func lightGap(prev, gap string) bool {
	n := 0
	for _, r := range gap {
		switch {
		case r == ' ' || r == '\t' || r == '\u00a0' || r == '\'' || r == '’' || isDash(r):
		case r == '.' && utf8.RuneCountInString(prev) <= 3:
		default:
			return false
		}
		if n++; n > 3 {
			return false
		}
	}
	return true
}

func isDash(r rune) bool {
	switch r {
	case '-', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212':
		return true
	}
	return false
}

// commonOK reports whether the common-word name f may match at toks[i]: it
// must be written exactly as the name, not start a sentence, and not be in a
// Title Case line.
func commonOK(text string, toks []token, lines []lineStats, i int, f *form) bool {
	if text[toks[i].start:toks[i].end] != f.words[0] {
		return false
	}
	if i == 0 || strings.ContainsAny(text[toks[i-1].end:toks[i].start], ".!?:;\n") {
		return false
	}
	return !lines[toks[i].line].titleCase()
}

// score says how exactly the text's tokens write the form: 1, confCaseFolded
// or confFolded, times confCommon for a common-word name.
func (f *form) score(text string, toks []token) float64 {
	s := 1.0
	for j, t := range toks {
		w := text[t.start:t.end]
		switch {
		case w == f.words[j]:
		case strings.EqualFold(w, f.words[j]):
			s = min(s, confCaseFolded)
		default:
			s = min(s, confFolded)
		}
	}
	if f.common {
		s *= confCommon
	}
	return s
}

// token is a word of text, or one CJK character.
type token struct {
	start, end int    // byte offsets
	key        string // folded for matching
	cjk        bool
	line       int // index into the line statistics
}

// lineStats counts a line's words of four bytes or more, and those of them
// that start with a capital.
type lineStats struct{ words, capitalised int }

// titleCase reports whether most of the line's longer words are capitalised,
// as in a headline.
func (l lineStats) titleCase() bool { return l.words >= 3 && l.capitalised*5 >= l.words*4 }

// tokenize splits s into words and CJK characters, with their keys. With
// stats, it also counts each line's capitalised words.
func tokenize(s string, stats bool) ([]token, []lineStats) {
	toks := make([]token, 0, len(s)/6+1)
	var lines []lineStats
	if stats {
		lines = append(lines, lineStats{})
	}
	start := -1 // of the current word
	flush := func(end int) {
		if start < 0 {
			return
		}
		w := s[start:end]
		toks = append(toks, token{start: start, end: end, key: fold(w), line: len(lines) - 1})
		if stats && len(w) >= 4 {
			l := &lines[len(lines)-1]
			l.words++
			if r, _ := utf8.DecodeRuneInString(w); unicode.IsUpper(r) {
				l.capitalised++
			}
		}
		start = -1
	}
	for i, r := range s {
		switch {
		case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'):
			if start < 0 {
				start = i
			}
		case r < utf8.RuneSelf:
			flush(i)
			if r == '\n' && stats {
				lines = append(lines, lineStats{})
			}
		case isCJK(r):
			flush(i)
			end := i + utf8.RuneLen(r)
			toks = append(toks, token{start: i, end: end, key: fold(s[i:end]), cjk: true, line: len(lines) - 1})
		case isWordRune(r):
			if start < 0 {
				start = i
			}
		default:
			flush(i)
		}
	}
	flush(len(s))
	return toks, lines
}

// isWordRune reports whether r belongs in a word: letters (except modifier
// letters such as ʹ and ʼ, which GeoNames' transliterations use as
// apostrophes), digits and combining marks.
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) && !unicode.Is(unicode.Lm, r) || unicode.IsDigit(r) || unicode.Is(unicode.M, r)
}

var cjkScripts = []*unicode.RangeTable{unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul}

// isCJK reports whether r is a Chinese, Japanese or Korean character, each of
// which Geotag treats as a word of its own.
func isCJK(r rune) bool {
	return r >= 0x1100 && (unicode.In(r, cjkScripts...) || r == 'ー' || r == '々')
}

// fold returns a word's matching key: lower case, and beyond ASCII also
// without accents (Ussuriysk's й and ё fold to и and е, on both sides) and in
// compatibility form (full-width letters as ASCII).
func fold(w string) string {
	for i := 0; i < len(w); i++ {
		if w[i] >= utf8.RuneSelf {
			return foldUnicode(w)
		}
	}
	return strings.ToLower(w)
}

func foldUnicode(w string) string {
	var b strings.Builder
	for _, r := range norm.NFKD.String(w) {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return norm.NFC.String(b.String())
}
