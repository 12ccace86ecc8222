package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/geowatch/geowatch/monitor"
)

// usageError is a command line that does not parse; it exits 2 like flag does.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// errHelp is what a command returns when asked for its usage (-h, --help):
// it printed the usage and did nothing else; run turns it into success.
var errHelp = errors.New("help requested")

func exitCode(err error) int {
	if errors.As(err, new(usageError)) {
		return 2
	}
	return 1
}

type command struct {
	name, args, help string
	run              func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"run", "[--config FILE] [--log-level LEVEL]", "run the daemon (the embedded default config without --config)", cmdRun},
		{"check-config", "FILE", "validate a config file and print each error with its field and line", cmdCheckConfig},
		{"geotag", "[--config FILE] TEXT|-", "print the places named in a text (stdin with -), with coordinates", cmdGeotag},
		{"sources", "[--config FILE] [--db PATH] [--format table|json]", "print each source's last run and totals (read-only; the daemon may run)", cmdSources},
		{"ingest", "FILE --source NAME [--format geojson|csv|auto] [--preset P] [--config FILE] [--db PATH]", "import a GeoJSON, NDJSON or CSV file through the engine as a run of source NAME", cmdIngest},
		{"query", "--near PLACE|LAT,LON --radius 50km | --within FILE [--filter K=V] [--since 24h|T] [--until T] [--kind K] [--source S] [--limit N] [--format table|csv|geojson|ndjson] [--config FILE] [--db PATH]", "print the observations near a place or inside a polygon (read-only; the daemon may run)", cmdQuery},
		{"export", "[--format geojson|csv|ndjson] [-o FILE] [the selection flags of query, none required]", "write every observation, or a selection, to stdout or a file (read-only)", cmdExport},
		{"alerts", "[--state pending|firing|resolved] [--watch NAME] [--since 24h|T] [--history] [--format table|json|geojson] [--config FILE] [--db PATH]", "list alerts, newest first, and with --history their transitions (read-only)", cmdAlerts},
		{"backup", "DEST [--config FILE] [--db PATH]", "write a consistent copy of the database to the new file DEST while the daemon runs", cmdBackup},
		{"silence", "add --watch W --rule R --for DURATION --comment TEXT [--start TIME] [--by NAME] [--config FILE] [--db PATH] | list [--all] [--format table|json] | expire ID", "mute alert notifications of a watch and/or rule for a while; list or end silences (the daemon may run)", cmdSilence},
		{"backtest", "--from T1 --to T2 [--step 1h] [--config FILE] [--db FILE | --file FILE] [--json OUT]", "replay stored observations (or a file) through the watches on a simulated clock and print the alert transitions", cmdBacktest},
		{"bench", "[--workload CSV] [--db FILE] [--batch N]", "measure load, query and start-up on the shared benchmark workload", cmdBench},
		{"version", "", "print the version", cmdVersion},
	}
}

// run dispatches a command line; main and tests call it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) >= 2 && args[0] == "help" { // help CMD [SUB]: CMD [SUB] --help
		args = append(append([]string(nil), args[1:]...), "--help")
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		usage(stdout)
		return nil
	}
	if args[0] == "--version" || args[0] == "-version" {
		return cmdVersion(ctx, nil, stdout, stderr)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, args[1:], stdout, stderr)
			if errors.Is(err, errHelp) {
				return nil
			}
			return err
		}
	}
	usage(stderr)
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}

// isHelp reports whether arg asks for usage.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help" || arg == "help"
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: geowatch COMMAND [ARGS]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-14s %s\n  %-14s   %s\n", c.name, c.args, "", c.help)
	}
}

// newFlags returns a flag set that reports errors instead of exiting. Its
// usage names the command's arguments as the top-level usage does.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("geowatch "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		w := fs.Output()
		top, _, _ := strings.Cut(name, " ")
		for _, c := range commands() {
			if c.name == top {
				fmt.Fprintf(w, "usage: geowatch %s %s\n\n%s\n", c.name, c.args, c.help)
			}
		}
		fmt.Fprintf(w, "\nflags of geowatch %s:\n", name)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args into fs; -h or --help prints the usage and returns
// errHelp, so the command stops before doing anything.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return usageError{err.Error()}
	}
	return nil
}

func cmdVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if err := parseFlags(newFlags("version", stderr), args); err != nil {
		return err
	}
	_, err := fmt.Fprintln(stdout, "geowatch", monitor.Version())
	return err
}
