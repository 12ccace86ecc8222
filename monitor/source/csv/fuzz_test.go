package csv

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"testing"
)

func FuzzParseUSGS(f *testing.F) {
	fuzzPreset(f, "usgs-csv", "usgs-2020-04-excerpt.csv",
		"time,latitude,longitude,id\n2020-04-27T19:32:29.850Z,95,0,x\n\"unterminated\n",
		"time,latitude,longitude,depth,mag,magType,nst,gap,dmin,rms,net,id,updated,place,type\n,1,2\n")
}

func FuzzParseGDELT2(f *testing.F) {
	fuzzPreset(f, "gdelt2", "gdelt2-20191024143000-excerpt.tsv", "1\t2\n")
}

func FuzzParseGDELT1(f *testing.F) {
	fuzzPreset(f, "gdelt1", "gdelt1-mixed-57-58.tsv", "\"\t\"\n")
}

func FuzzParseACLED(f *testing.F) {
	fuzzPreset(f, "acled", "acled-synthetic.csv",
		"event_id_cnty,event_date,latitude,longitude,geo_precision\nA,9-May-20,1,2,4\nB,2020-05-09,1,2,1,extra\n")
}

// fuzzPreset checks that Parse never panics and accounts for every row: an
// unreadable input is an error with nothing parsed; otherwise each row the CSV
// reader produces (a record or a syntax error) is either an observation that
// passes Validate or a reject that says where and why.
func fuzzPreset(f *testing.F, preset, seed string, extra ...string) {
	data := readTestdata(f, seed)
	f.Add(data)
	f.Add(gzipped(f, data))
	for _, s := range extra {
		f.Add([]byte(s))
	}
	opt := Options{Preset: preset, MaxBytes: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Parse(bytes.NewReader(data), opt)
		if err != nil {
			if len(b.Observations)+len(b.Rejects) != 0 {
				t.Fatalf("error %v with %d observations, %d rejects", err, len(b.Observations), len(b.Rejects))
			}
			return
		}
		if got, want := len(b.Observations)+len(b.Rejects), countRows(t, data, opt); got != want {
			t.Fatalf("observations %d + rejects %d = %d, want %d rows", len(b.Observations), len(b.Rejects), got, want)
		}
		for _, o := range b.Observations {
			if err := o.Validate(); err != nil {
				t.Fatalf("observation %q: %v", o.ID, err)
			}
		}
		for _, r := range b.Rejects {
			if r.Record == "" || r.Field == "" || r.Err == nil {
				t.Fatalf("reject without locator, field or error: %+v", r)
			}
		}
	})
}

// countRows counts the data rows encoding/csv reads from an input Parse
// accepted, syntax errors included, as the preset configures the reader.
func countRows(t *testing.T, data []byte, opt Options) int {
	t.Helper()
	opt, _, err := opt.resolve()
	if err != nil {
		t.Fatal(err)
	}
	in, err := decode(bytes.NewReader(data), opt.MaxBytes)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	br := bufio.NewReader(in)
	if bom, _ := br.Peek(3); string(bom) == "\xef\xbb\xbf" {
		_, _ = br.Discard(3)
	}
	r := csv.NewReader(br)
	r.Comma, r.LazyQuotes, r.FieldsPerRecord = opt.Delimiter, opt.LazyQuotes, -1
	n := 0
	for {
		_, err := r.Read()
		var pe *csv.ParseError
		if err == io.EOF {
			break
		}
		if err != nil && !errors.As(err, &pe) {
			t.Fatalf("Parse accepted an input the reader fails on: %v", err)
		}
		n++
	}
	if opt.Header {
		n--
	}
	return n
}
