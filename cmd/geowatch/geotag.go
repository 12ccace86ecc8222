package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
)

// cmdGeotag prints the places the gazetteer finds in a text: the built-in and
// GeoNames places plus those of the config, as the rss source would tag them.
func cmdGeotag(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("geotag", stderr)
	cfgPath := fs.String("config", "", "config `FILE` whose places to add (default: the embedded default config)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var text string
	switch {
	case fs.NArg() == 0 || fs.NArg() == 1 && fs.Arg(0) == "-":
		b, err := io.ReadAll(io.LimitReader(os.Stdin, 16<<20))
		if err != nil {
			return fmt.Errorf("geotag: read stdin: %w", err)
		}
		text = string(b)
	default:
		text = strings.Join(fs.Args(), " ")
	}
	_, plan, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MATCHED\tPLACE\tCOUNTRY\tCLASS\tLAT\tLON\tCONFIDENCE\tOFFSET")
	for _, m := range plan.Gazetteer.Geotag(text) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.4f\t%.4f\t%.2f\t%d-%d\n", m.Text, m.Place.Name, m.Place.Country,
			m.Place.Class, m.Place.Point.Lat(), m.Place.Point.Lon(), m.Confidence, m.Start, m.End)
	}
	return tw.Flush()
}
