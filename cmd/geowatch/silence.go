package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/geowatch/geowatch/configs"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
	"go.uber.org/zap"
)

// Log messages of the silence commands; their fields are silence_id, watch, rule,
// ends_at and comment.
const (
	msgSilenceCreated = "silence created"
	msgSilenceExpired = "silence expired"
)

// cmdSilence dispatches silence add, list and expire. Each opens the database
// read-write (WAL lets the daemon run meanwhile); the daemon reads silences at
// every evaluation, so a change applies from its next one.
func cmdSilence(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"silence: want add, list or expire"}
	}
	if isHelp(args[0]) {
		for _, c := range commands() {
			if c.name == "silence" {
				fmt.Fprintf(stdout, "usage: geowatch silence %s\n\n%s\n\nEach subcommand's flags: geowatch silence add|list|expire --help\n", c.args, c.help)
			}
		}
		return errHelp
	}
	switch args[0] {
	case "add":
		return silenceAdd(ctx, args[1:], stdout, stderr)
	case "list":
		return silenceList(ctx, args[1:], stdout, stderr)
	case "expire":
		return silenceExpire(ctx, args[1:], stdout, stderr)
	}
	return usageError{fmt.Sprintf("silence: unknown subcommand %q: want add, list or expire", args[0])}
}

// silenceDB holds the flags every silence subcommand takes.
type silenceDB struct {
	cfgPath, dbPath *string
}

func dbFlags(fs *flag.FlagSet) silenceDB {
	return silenceDB{
		cfgPath: fs.String("config", "", "config `FILE` naming the database and, for add, the watches and rules (default: the embedded default config)"),
		dbPath:  fs.String("db", "", "database: a SQLite `PATH` or a postgres:// URL (default: the config's database)"),
	}
}

// plan loads the config when --config is given or --db is not (it names the
// database then); nil when --db alone names the database.
func (f silenceDB) plan() (*configs.Plan, error) {
	if *f.dbPath != "" && *f.cfgPath == "" {
		return nil, nil
	}
	_, p, err := loadConfig(*f.cfgPath)
	return p, err
}

// path is --db if set, else the config's database.
func (f silenceDB) path(plan *configs.Plan) string {
	if *f.dbPath == "" && plan != nil {
		return plan.Database
	}
	return *f.dbPath
}

// open opens the database read-write, with the config's durability.
func (f silenceDB) open(ctx context.Context, plan *configs.Plan, log *zap.Logger) (store.Backend, error) {
	return openWritable(ctx, f.path(plan), plan, log)
}

func silenceAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("silence add", stderr)
	watch := fs.String("watch", "", "mute alerts of the watch `NAME` (any watch if empty)")
	rule := fs.String("rule", "", "mute alerts of the rule `NAME` (any rule if empty)")
	dur := fs.String("for", "", "how long the silence lasts from its start: `DURATION` such as 2h or 1d (required)")
	start := fs.String("start", "", "start `TIME`: RFC 3339, a date, a duration back from now or now (default: now)")
	comment := fs.String("comment", "", "why: shown in silence list (required)")
	by := fs.String("by", "", "who silences, `NAME` (default: the user running the command)")
	force := fs.Bool("force", false, "accept a watch or rule the config does not have (yet): a planned one")
	db := dbFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return usageError{"silence add takes no arguments"}
	case *watch == "" && *rule == "":
		return usageError{"silence add: give --watch, --rule or both"}
	case *dur == "":
		return usageError{"silence add: --for DURATION is required"}
	case *comment == "":
		return usageError{"silence add: --comment is required"}
	}
	d, err := configs.ParseDuration(*dur)
	if err != nil {
		return usageError{fmt.Sprintf("silence add: --for: %v", err)}
	}
	if d <= 0 {
		return usageError{fmt.Sprintf("silence add: --for %s: must be positive", *dur)}
	}
	now := time.Now()
	begin := now
	if *start != "" {
		if begin, err = parseWhen(*start, now); err != nil {
			return usageError{fmt.Sprintf("silence add: --start %v", err)}
		}
	}
	if begin.Add(d).Before(now) {
		return usageError{fmt.Sprintf("silence add: it would have ended at %s, in the past", begin.Add(d).UTC().Format(time.RFC3339))}
	}
	if *by == "" {
		*by = currentUser()
	}
	log, err := newLogger(stderr, "info", "json")
	if err != nil {
		return err
	}
	plan, err := db.plan()
	if err != nil {
		return err
	}
	// The names must be in the effective config: --config, else the embedded
	// default, which is also what --db alone runs with.
	effective := plan
	if effective == nil {
		if _, effective, err = loadConfig(""); err != nil {
			return err
		}
	}
	if !*force {
		if err := checkSilenced(effective, *watch, *rule); err != nil {
			return err
		}
	}
	st, err := db.open(ctx, plan, log)
	if err != nil {
		return err
	}
	defer st.Close()
	s := monitor.Silence{Watch: *watch, Rule: *rule, StartsAt: begin, EndsAt: begin.Add(d), CreatedBy: *by, Comment: *comment}
	if err := st.AddSilence(ctx, &s); err != nil {
		return err
	}
	log.Info(msgSilenceCreated, silenceFields(s)...)
	_, err = fmt.Fprintln(stdout, s.ID)
	return err
}

// errNoSuch is a silence naming a watch or rule the config does not have.
var errNoSuch = errors.New("not in the config")

// checkSilenced verifies that the config has the watch and the rule, and the rule
// on that watch when both are given: a typo would silence nothing.
func checkSilenced(plan *configs.Plan, watch, rule string) error {
	var watches, rules []string
	for _, job := range plan.Watches {
		w := job.Watch
		watches = append(watches, w.Name)
		if watch != "" && w.Name != watch {
			continue
		}
		for _, r := range w.Rules {
			rules = append(rules, r.Name)
		}
	}
	if watch != "" && !slices.Contains(watches, watch) {
		return fmt.Errorf("silence add: watch %q: %w (watches: %v; --force for a planned one)", watch, errNoSuch, watches)
	}
	if rule != "" && !slices.Contains(rules, rule) {
		where := "any watch"
		if watch != "" {
			where = "watch " + watch
		}
		return fmt.Errorf("silence add: rule %q: %w on %s (rules: %v; --force for a planned one)", rule, errNoSuch, where, rules)
	}
	return nil
}

// currentUser names who runs the command, for created_by.
func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}

func silenceFields(s monitor.Silence) []zap.Field {
	return []zap.Field{
		zap.Int64("silence_id", s.ID), zap.String("watch", s.Watch), zap.String("rule", s.Rule),
		zap.String("ends_at", s.EndsAt.UTC().Format(time.RFC3339)), zap.String("comment", s.Comment),
	}
}

func silenceList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("silence list", stderr)
	all := fs.Bool("all", false, "also list silences that have ended or were expired")
	format := fs.String("format", "table", "output `FORMAT`: table or json")
	db := dbFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{"silence list takes no arguments"}
	}
	if *format != "table" && *format != "json" {
		return usageError{fmt.Sprintf("silence list: --format %q: want table or json", *format)}
	}
	plan, err := db.plan()
	if err != nil {
		return err
	}
	// Listing only reads: open read-only, as the other listing commands do,
	// so it never migrates or checkpoints a file the daemon is writing.
	st, err := openStore(ctx, db.path(plan), store.ReadOnly())
	if err != nil {
		return err
	}
	defer st.Close()
	ss, err := st.ListSilences(ctx, *all)
	if err != nil {
		return err
	}
	now := time.Now()
	if *format == "json" {
		return writeSilencesJSON(stdout, ss, now)
	}
	return writeSilencesTable(stdout, ss, now)
}

// silenceState is "active", "pending" (yet to start), "expired" (ended early by
// silence expire) or "ended".
func silenceState(s store.SilenceRecord, now time.Time) string {
	switch {
	case !s.ExpiredAt.IsZero():
		return "expired"
	case !now.Before(s.EndsAt):
		return "ended"
	case now.Before(s.StartsAt):
		return "pending"
	}
	return "active"
}

func writeSilencesTable(w io.Writer, ss []store.SilenceRecord, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tWATCH\tRULE\tSTARTS\tENDS\tCREATED BY\tCOMMENT")
	dash := func(s string) string {
		if s == "" {
			return "*"
		}
		return s
	}
	for _, s := range ss {
		by := s.CreatedBy
		if by == "" {
			by = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, silenceState(s, now), dash(s.Watch), dash(s.Rule),
			tableTime(s.StartsAt), tableTime(s.EndsAt), by, s.Comment)
	}
	return tw.Flush()
}

// silenceJSON is one silence as --format json prints it; keys follow the
// silences table's columns, with null for an empty watch or rule (any).
type silenceJSON struct {
	ID        int64     `json:"id"`
	State     string    `json:"state"`
	Watch     *string   `json:"watch"`
	Rule      *string   `json:"rule"`
	StartsAt  jsonTime  `json:"starts_at"`
	EndsAt    jsonTime  `json:"ends_at"`
	CreatedBy string    `json:"created_by"`
	Comment   string    `json:"comment"`
	CreatedAt jsonTime  `json:"created_at"`
	ExpiredAt *jsonTime `json:"expired_at"`
}

func writeSilencesJSON(w io.Writer, ss []store.SilenceRecord, now time.Time) error {
	out := make([]silenceJSON, 0, len(ss))
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	for _, s := range ss {
		j := silenceJSON{
			ID: s.ID, State: silenceState(s, now), Watch: opt(s.Watch), Rule: opt(s.Rule),
			StartsAt: jsonTime{s.StartsAt}, EndsAt: jsonTime{s.EndsAt}, CreatedBy: s.CreatedBy, Comment: s.Comment,
			CreatedAt: jsonTime{s.CreatedAt}, ExpiredAt: optTime(s.ExpiredAt),
		}
		out = append(out, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func silenceExpire(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("silence expire", stderr)
	db := dbFlags(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"silence expire takes one ID"}
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || id <= 0 {
		return usageError{fmt.Sprintf("silence expire: ID %q: want a silence id from silence list", pos[0])}
	}
	log, err := newLogger(stderr, "info", "json")
	if err != nil {
		return err
	}
	plan, err := db.plan()
	if err != nil {
		return err
	}
	st, err := db.open(ctx, plan, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.ExpireSilence(ctx, id, time.Now()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("silence expire: no silence %d", id)
		}
		return err
	}
	ss, err := st.ListSilences(ctx, true)
	if err != nil {
		return err
	}
	for _, s := range ss {
		if s.ID == id {
			log.Info(msgSilenceExpired, silenceFields(s.Silence)...)
		}
	}
	_, err = fmt.Fprintln(stdout, id)
	return err
}
