package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
)

// cmdGeotag prints the places the gazetteer finds in a text: the built-in and
// GeoNames places plus those of the config, as the rss source would tag them.
func cmdGeotag(_ context.Context, args []string, stdout, stderr io.Writer) error {
	return geotag(args, os.Stdin, stdout, stderr)
}

// geotagJSON is a match in --format json; offsets are bytes into the text.
type geotagJSON struct {
	Matched    string  `json:"matched"`
	Place      string  `json:"place"`
	Country    string  `json:"country"`
	Class      string  `json:"class"`
	Lat        float64 `json:"lat"`
	Lon        float64 `json:"lon"`
	Confidence float64 `json:"confidence"`
	StartByte  int     `json:"start_byte"`
	EndByte    int     `json:"end_byte"`
}

func geotag(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("geotag", stderr)
	cfgPath := fs.String("config", "", "config `FILE` whose places to add (default: the embedded default config)")
	format := fs.String("format", "table", "output `FORMAT`: table or json")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if *format != "table" && *format != "json" {
		return usageError{fmt.Sprintf("geotag: --format %q: want table or json", *format)}
	}
	var text string
	switch {
	case len(pos) == 0:
		return usageError{"geotag: give the TEXT, or - to read it from stdin"}
	case len(pos) == 1 && pos[0] == "-":
		b, err := io.ReadAll(io.LimitReader(stdin, 16<<20))
		if err != nil {
			return fmt.Errorf("geotag: read stdin: %w", err)
		}
		text = string(b)
	default:
		text = strings.Join(pos, " ")
	}
	_, plan, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	matches := plan.Gazetteer.Geotag(text)
	if *format == "json" {
		out := make([]geotagJSON, 0, len(matches))
		for _, m := range matches {
			out = append(out, geotagJSON{m.Text, m.Place.Name, m.Place.Country, m.Place.Class,
				m.Place.Point.Lat(), m.Place.Point.Lon(), m.Confidence, m.Start, m.End})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MATCHED\tPLACE\tCOUNTRY\tCLASS\tLAT\tLON\tCONFIDENCE\tBYTES")
	for _, m := range matches {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.4f\t%.4f\t%.2f\t%d-%d\n", m.Text, m.Place.Name, m.Place.Country,
			m.Place.Class, m.Place.Point.Lat(), m.Place.Point.Lon(), m.Confidence, m.Start, m.End)
	}
	return tw.Flush()
}
