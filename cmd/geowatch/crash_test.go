package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/source/push"
	"github.com/geowatch/geowatch/monitor/source/spool"
	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/postgis/pgtest"
)

// The crash test's watched place: pushed and spooled records land near it at
// random, so its count rule fires and resolves while the daemon is killed.
const (
	crashLat = 43.1
	crashLon = 131.9
)

// TestCrash kills the real binary with SIGKILL at random moments while records
// stream in through the push endpoint and the spool, restarts it, and checks
// what geowatch promises: every acknowledged record (a push answered 200 or
// 422, a spool file moved to done/) is stored exactly once, the file passes
// SQLite's integrity check and opens in GDAL, and every announced alert
// transition is stored once and is in the alerts file at least once.
//
// It runs only with GEOWATCH_CRASH=short (at least 10 kills, about a minute;
// CI runs it from .ci/crash) or GEOWATCH_CRASH=long (100 kills). The kill
// times and records come from a seeded RNG: the seed is logged, and
// GEOWATCH_CRASH_SEED=N replays it.
//
// It runs on both backends: on PostgreSQL (a private server of its own) it
// also stops and restarts the server once, halfway through the kills, while
// the daemon runs and pushes keep coming.
func TestCrash(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testCrash(t, func(dir string) string { return filepath.Join(dir, "geowatch.gpkg") }, nil)
	})
	t.Run("postgis", func(t *testing.T) {
		if os.Getenv("GEOWATCH_CRASH") == "" {
			t.Skip("set GEOWATCH_CRASH=short or GEOWATCH_CRASH=long to run the crash test")
		}
		srv := pgtest.Start(t)
		testCrash(t, func(string) string { return srv.URL() }, srv)
	})
}

// testCrash is TestCrash on the database that database returns for the
// test's directory; with srv, the PostgreSQL server is restarted once.
func testCrash(t *testing.T, database func(dir string) string, srv *pgtest.Server) {
	var kills int
	switch mode := os.Getenv("GEOWATCH_CRASH"); mode {
	case "":
		t.Skip("set GEOWATCH_CRASH=short or GEOWATCH_CRASH=long to run the crash test")
	case "short":
		kills = 12
	case "long":
		kills = 100
	default:
		t.Fatalf("GEOWATCH_CRASH=%q: want short or long", mode)
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("GEOWATCH_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("GEOWATCH_CRASH_SEED=%q: %v", s, err)
		}
	}
	t.Logf("seed %d (replay with GEOWATCH_CRASH_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	bin := buildBinary(t)
	dir := t.TempDir()
	dbPath := database(dir)
	spoolDir := filepath.Join(dir, "spool")
	alertsPath := filepath.Join(dir, "alerts.jsonl")
	if err := os.Mkdir(spoolDir, 0o750); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cfgPath := filepath.Join(dir, "geowatch.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(`
database: %s
http:
  listen: %s
  rate: 0
sources:
  - name: pushed
    type: push
    kind: report
  - name: dropped
    type: spool
    dir: %s
    schedule: "@every 1s"
    kind: report
watches:
  - name: crossing
    lat: %v
    lon: %v
    radius: 5km
    schedule: "@every 1s"
    rules:
      - name: busy
        type: count
        min: 4
        window: 3s
        keep_firing_for: 1s
subscribers:
  - {name: journal, sink: log}
  - {name: desk, sink: file, path: %s}
`, dbPath, addr, spoolDir, crashLat, crashLon, alertsPath))

	logPath := filepath.Join(dir, "daemon.log")
	f := newFeeder("http://"+addr+push.Path, seed)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() { f.run(ctx, uint64(i+1)) })
	}
	dropper := newSpooler(spoolDir, seed)
	dropCtx, stopDropping := context.WithCancel(ctx)
	dropped := make(chan struct{})
	go func() {
		defer close(dropped)
		dropper.run(dropCtx, f)
	}()

	start := time.Now()
	for i := range kills {
		p := startBinary(t, bin, cfgPath, logPath)
		// One kill in five comes early, before or just after the daemon is
		// ready: during migrations, the first check runs and the first
		// deliveries. Not in the run whose PostgreSQL restarts: that is a
		// restart under a running daemon (a daemon whose database goes away
		// while it starts exits, and systemd starts it again).
		restartsDB := srv != nil && i == kills/2
		var after time.Duration
		if rng.IntN(5) == 0 && !restartsDB {
			after = time.Duration(rng.Int64N(int64(800 * time.Millisecond)))
		} else {
			if err := p.waitReady(addr, 30*time.Second); err != nil {
				t.Fatalf("run %d: %v\n%s", i+1, err, tail(logPath, 20))
			}
			after = 300*time.Millisecond + time.Duration(rng.Int64N(int64(3*time.Second)))
		}
		select {
		case <-time.After(after):
		case <-p.exited:
			t.Fatalf("run %d: the daemon exited by itself: %v\n%s", i+1, p.err, tail(logPath, 20))
		}
		if restartsDB {
			// PostgreSQL itself goes away under the running daemon and comes
			// back: the daemon must ride it out without a restart.
			srv.Stop()
			time.Sleep(time.Second) // the server stays down for a while, as in a real restart
			srv.Start()
			if err := p.waitReady(addr, 60*time.Second); err != nil {
				t.Fatalf("run %d: not ready again after PostgreSQL restarted: %v\n%s", i+1, err, tail(logPath, 20))
			}
			t.Logf("run %d: PostgreSQL restarted under the daemon; ready again", i+1)
		}
		p.kill()
		acked, pending := f.counts()
		t.Logf("kill %d after %v: %d batches acknowledged, %d to re-send", i+1, after.Round(time.Millisecond), acked, pending)
	}

	// The last run: stop feeding, re-send what was never acknowledged, let
	// the spool drain and the alert resolve, then stop cleanly.
	p := startBinary(t, bin, cfgPath, logPath)
	if err := p.waitReady(addr, 30*time.Second); err != nil {
		t.Fatalf("last run: %v\n%s", err, tail(logPath, 20))
	}
	f.stopGenerating()
	stopDropping()
	<-dropped
	if err := waitFor(60*time.Second, f.drained); err != nil {
		t.Fatalf("re-sending the unacknowledged batches: %v", err)
	}
	if err := waitFor(60*time.Second, func() bool { return len(spooled(t, spoolDir)) == 0 }); err != nil {
		t.Fatalf("draining the spool, still there: %v: %v", spooled(t, spoolDir), err)
	}
	cancel()
	wg.Wait()
	// Window plus keep_firing_for plus the records' age and two evaluations:
	// no alert stays open, so nothing can be stored but not yet announced
	// when the daemon stops.
	time.Sleep(3*time.Second + time.Second + time.Second + 2*time.Second)
	if err := p.stop(40 * time.Second); err != nil {
		t.Fatalf("clean stop: %v\n%s", err, tail(logPath, 20))
	}
	elapsed := time.Since(start)

	rep := verifyCrash(t, dbPath, spoolDir, alertsPath, f)
	checkGDAL(t, dbPath, rep.stored)
	errLines, panics := logProblems(t, logPath, filepath.Join(dir, "daemon.stderr"))
	for _, p := range f.problems() {
		t.Error(p)
	}
	if panics != "" {
		t.Errorf("the daemon panicked:\n%s", panics)
	}
	acked, _ := f.counts()
	t.Logf("crash test: seed %d, %d kills survived in %v; %d push batches acknowledged (%d records, %d re-sent batches, %d repeats of acknowledged ones), "+
		"%d spool files done (%d records); %d records stored; lost %d, duplicated %d, unexpected %d; "+
		"%d alert transitions (%d announced), %d alerts-file lines, %d transitions announced more than once; error log lines: %v",
		seed, kills, elapsed.Round(time.Second), acked, len(f.ackedIDs()), f.resent(), f.repeats(),
		rep.doneFiles, rep.spoolRecords, rep.stored, rep.lost, rep.duplicated, rep.unexpected,
		rep.transitions, rep.announced, rep.fileLines, rep.redelivered, errLines)
}

// crashReport is what verifyCrash counted.
type crashReport struct {
	stored, lost, duplicated, unexpected int
	doneFiles, spoolRecords              int
	transitions, announced               int
	fileLines, redelivered               int
}

// verifyCrash checks the stopped daemon's database, spool and alerts file
// against what the feeders had acknowledged.
func verifyCrash(t *testing.T, dbPath, spoolDir, alertsPath string, f *feeder) crashReport {
	t.Helper()
	ctx := t.Context()
	db, err := openStore(ctx, dbPath, store.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if c, ok := db.(interface{ IntegrityCheck(context.Context) error }); ok {
		if err := c.IntegrityCheck(ctx); err != nil {
			t.Errorf("integrity check: %v", err)
		}
	}
	var rep crashReport

	type key struct{ source, id string }
	stored := map[key]int{}
	err = db.Query(ctx, store.QueryFilter{}, func(o monitor.Observation) error {
		stored[key{o.Source, o.ID}]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n, err := db.CountObservations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rep.stored = int(n)
	if n != int64(len(stored)) {
		t.Errorf("CountObservations = %d, but Query returned %d distinct (source, id)", n, len(stored))
	}
	want := map[key]bool{}
	for _, id := range f.ackedIDs() {
		want[key{"pushed", id}] = true
	}
	done, err := os.ReadDir(filepath.Join(spoolDir, spool.DoneDir))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range done {
		ids, err := spoolIDs(filepath.Join(spoolDir, spool.DoneDir, e.Name()))
		if err != nil {
			t.Errorf("done/%s: %v", e.Name(), err)
		}
		rep.doneFiles++
		rep.spoolRecords += len(ids)
		for _, id := range ids {
			want[key{"dropped", id}] = true
		}
	}
	if failed, _ := os.ReadDir(filepath.Join(spoolDir, spool.FailedDir)); len(failed) > 0 {
		t.Errorf("spool files in failed/: %v", failed)
	}
	var lost []string
	for k := range want {
		switch c := stored[k]; {
		case c == 0:
			rep.lost++
			lost = append(lost, k.source+"/"+k.id)
		case c > 1:
			rep.duplicated++
		}
	}
	for k := range stored {
		if !want[k] {
			rep.unexpected++
		}
	}
	if rep.lost > 0 {
		slices.Sort(lost)
		t.Errorf("%d acknowledged records lost, such as %v", rep.lost, lost[:min(10, len(lost))])
	}
	if rep.duplicated > 0 {
		t.Errorf("%d records stored more than once", rep.duplicated)
	}
	if rep.unexpected > 0 {
		// Every batch is re-sent until acknowledged, so nothing stored should
		// be unknown to the feeders.
		t.Errorf("%d stored records were never acknowledged", rep.unexpected)
	}

	// Alert transitions: each alert's transitions form one chain (opened once,
	// each from the state the last left, resolved at most once and last), one
	// alert per (watch, rule) at a time; the announced ones are marked
	// notified and are in the alerts file.
	ts, err := db.Transitions(ctx, store.TransitionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	alerts, err := db.Alerts(ctx, store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	rule := map[int64]string{}
	for _, a := range alerts {
		rule[a.ID] = a.Watch + "/" + a.Rule
	}
	rep.transitions = len(ts)
	last := map[int64]monitor.Transition{}
	openAlert := map[string]int64{} // (watch/rule) → its open alert
	inDB := map[int64]bool{}
	announcedIDs := map[int64]bool{}
	for _, tr := range ts {
		inDB[tr.ID] = true
		prev, seen := last[tr.AlertID]
		switch {
		case !seen && tr.From != 0:
			t.Errorf("transition %d: alert %d's first transition is from %s, want an opening one", tr.ID, tr.AlertID, tr.From)
		case seen && tr.From == 0:
			t.Errorf("transition %d: alert %d opened again (first at transition %d)", tr.ID, tr.AlertID, prev.ID)
		case seen && prev.To == monitor.StateResolved:
			t.Errorf("transition %d: alert %d moves after it resolved at transition %d", tr.ID, tr.AlertID, prev.ID)
		case seen && tr.From != prev.To:
			t.Errorf("transition %d: alert %d from %s, but transition %d left it %s", tr.ID, tr.AlertID, tr.From, prev.ID, prev.To)
		}
		wr, ok := rule[tr.AlertID]
		if !ok {
			t.Errorf("transition %d: alert %d not stored", tr.ID, tr.AlertID)
		}
		if tr.From == 0 {
			if other, open := openAlert[wr]; open && other != tr.AlertID {
				t.Errorf("transition %d: alert %d opened for %s while alert %d is open", tr.ID, tr.AlertID, wr, other)
			}
			openAlert[wr] = tr.AlertID
		}
		if tr.To == monitor.StateResolved && openAlert[wr] == tr.AlertID {
			delete(openAlert, wr)
		}
		last[tr.AlertID] = tr.Transition
		if tr.To == monitor.StateFiring || tr.To == monitor.StateResolved && tr.From == monitor.StateFiring {
			rep.announced++
			announcedIDs[tr.ID] = true
			if tr.NotifiedAt.IsZero() {
				t.Errorf("transition %d (%s → %s of alert %d) not marked notified after a clean stop", tr.ID, tr.From, tr.To, tr.AlertID)
			}
		}
	}
	inFile, lines := alertsFileIDs(t, alertsPath)
	rep.fileLines = lines
	for id, c := range inFile {
		if !inDB[id] {
			t.Errorf("alerts file: transition %d is not in the database", id)
		}
		if !announcedIDs[id] {
			t.Errorf("alerts file: transition %d was not one to announce", id)
		}
		if c > 1 {
			rep.redelivered++
		}
	}
	for id := range announcedIDs {
		if inFile[id] == 0 {
			t.Errorf("transition %d is stored but not in the alerts file", id)
		}
	}
	if rep.announced == 0 {
		t.Errorf("no alert transition was announced: the test did not exercise alerts")
	}
	return rep
}

// alertsFileIDs counts the alerts file's lines by transition_id; a line that
// is not a JSON object with one is an error (a torn write).
func alertsFileIDs(t *testing.T, path string) (map[int64]int, int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[int64]int{}
	lines := 0
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		lines++
		var v struct {
			TransitionID *int64 `json:"transition_id"`
		}
		if err := json.Unmarshal(line, &v); err != nil || v.TransitionID == nil {
			t.Errorf("alerts file line %d: %q: not an event (%v)", i+1, line, err)
			continue
		}
		ids[*v.TransitionID]++
	}
	return ids, lines
}

// checkGDAL opens the GeoPackage with ogrinfo and compares its feature count.
func checkGDAL(t *testing.T, dbPath string, want int) {
	t.Helper()
	if _, err := exec.LookPath("ogrinfo"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("ogrinfo not found under CI: %v", err)
		}
		t.Logf("ogrinfo not found; skipping the GDAL check (apt-get install gdal-bin)")
		return
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("ogrinfo", "-ro", "-so", ogrName(t, dbPath), "observations")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ogrinfo: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), fmt.Sprintf("Feature Count: %d\n", want)) {
		t.Errorf("ogrinfo: want Feature Count: %d in:\n%s", want, stdout.String())
	}
}

// ogrName is how GDAL names database: a file's path, or PG:"…" for PostgreSQL.
func ogrName(t *testing.T, database string) string {
	t.Helper()
	if store.KindOf(database) != store.PostgreSQL {
		return database
	}
	u, err := url.Parse(database)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("PG:host=%s port=%s user=%s dbname=%s", u.Hostname(), u.Port(), u.User.Username(), strings.TrimPrefix(u.Path, "/"))
}

// logProblems returns the counts of the daemon's error lines by message and
// any panic on its stderr.
func logProblems(t *testing.T, logPath, stderrPath string) (map[string]int, string) {
	t.Helper()
	errs := map[string]int{}
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l struct{ Level, Msg string }
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			errs["(not JSON)"]++
			continue
		}
		if l.Level == "error" || l.Level == "fatal" || l.Level == "panic" {
			errs[l.Msg]++
		}
	}
	stderr, _ := os.ReadFile(stderrPath)
	var panics string
	if bytes.Contains(stderr, []byte("panic:")) || bytes.Contains(stderr, []byte("fatal error:")) {
		panics = string(stderr)
	}
	return errs, panics
}

// buildBinary builds ./cmd/geowatch once per test into a temp dir, reusing
// the go build cache.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "geowatch")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freeAddr returns a 127.0.0.1 address with a port free right now, for a
// config that must name one port across restarts.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// daemonProc is one run of the binary.
type daemonProc struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when it has exited; err is then set
	err    error
}

// startBinary starts `geowatch run --config cfg`, appending its stdout to
// logPath and its stderr to logPath's .stderr sibling. It is killed at the
// end of the test if still running.
func startBinary(t *testing.T, bin, cfg, logPath string) *daemonProc {
	t.Helper()
	stdout, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.OpenFile(strings.TrimSuffix(logPath, filepath.Ext(logPath))+".stderr", os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	p := &daemonProc{cmd: exec.Command(bin, "run", "--config", cfg), exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = stdout, stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		stdout.Close()
		stderr.Close()
		close(p.exited)
	}()
	t.Cleanup(p.kill)
	return p
}

// waitReady polls /readyz until it answers 200.
func (p *daemonProc) waitReady(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return fmt.Errorf("daemon exited before it was ready: %v", p.err)
		default:
		}
		resp, err := client.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("daemon not ready after %v", timeout)
}

// kill sends SIGKILL and waits for the exit.
func (p *daemonProc) kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL) //nolint:errcheck // it may have exited since
	<-p.exited
}

// stop sends SIGTERM and waits for a clean exit.
func (p *daemonProc) stop(timeout time.Duration) error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-p.exited:
		return p.err
	case <-time.After(timeout):
		p.kill()
		return fmt.Errorf("not stopped %v after SIGTERM; killed", timeout)
	}
}

// waitFor polls cond every 50 ms until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v", timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// tail returns the last n lines of a file, for failure messages.
func tail(path string, n int) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// reportFeature is one GeoJSON Feature as the feeders send it.
func reportFeature(id string, lon, lat float64, at time.Time) string {
	return fmt.Sprintf(`{"type":"Feature","id":%q,"geometry":{"type":"Point","coordinates":[%.5f,%.5f]},"properties":{"time":%q,"title":"report %s"}}`,
		id, lon, lat, at.UTC().Format(time.RFC3339Nano), id)
}

// recordPlace returns where a record lands: near the watch (within about 3 km)
// while hot, else anywhere at least a few degrees away from it.
func recordPlace(rng *rand.Rand, hot bool) (lon, lat float64) {
	if hot && rng.IntN(3) == 0 {
		return crashLon + (rng.Float64()-0.5)*0.05, crashLat + (rng.Float64()-0.5)*0.04
	}
	for {
		lon, lat = rng.Float64()*360-180, rng.Float64()*160-80
		if (lon-crashLon)*(lon-crashLon)+(lat-crashLat)*(lat-crashLat) > 25 {
			return lon, lat
		}
	}
}

// hotNow reports whether records land near the watch now: hot for 2 s, then
// cold for 6 s (longer than the rule's window plus keep_firing_for plus the
// records' age), so alerts fire and resolve over and over.
func hotNow(start time.Time) bool {
	return time.Since(start)%(8*time.Second) < 2*time.Second
}

// pushBatch is one request body and the ids it carries.
type pushBatch struct {
	body []byte
	ids  []string
}

// feeder pushes batches of uniquely-id'd records and keeps every batch that
// was not acknowledged to send again, first, until it is.
type feeder struct {
	url    string
	seed   uint64
	start  time.Time
	client *http.Client

	mu         sync.Mutex
	next       int // record sequence
	generating bool
	pending    []pushBatch // not acknowledged, oldest first
	inFlight   int
	acked      []pushBatch
	ids        []string
	resends    int
	repeated   int
	wrong      []string // acknowledged answers that do not fit what was sent
}

func newFeeder(url string, seed uint64) *feeder {
	return &feeder{url: url, seed: seed, start: time.Now(), generating: true,
		client: &http.Client{Timeout: 10 * time.Second}}
}

// run sends until ctx is done; worker seeds its RNG.
func (f *feeder) run(ctx context.Context, worker uint64) {
	rng := rand.New(rand.NewPCG(f.seed, worker))
	for ctx.Err() == nil {
		b, resend, ok := f.take(rng)
		if !ok {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if old, ok := f.pickAcked(rng, resend); ok {
			// A client that retries a batch it already had acknowledged:
			// the store must count it as duplicates, not store it twice.
			if f.send(ctx, old) == nil {
				f.mu.Lock()
				f.repeated++
				f.mu.Unlock()
			}
		}
		err := f.send(ctx, b)
		f.mu.Lock()
		f.inFlight--
		if err != nil {
			f.pending = append(f.pending, b)
			if resend {
				f.resends++
			}
		} else {
			f.acked = append(f.acked, b)
			f.ids = append(f.ids, b.ids...)
		}
		f.mu.Unlock()
		if err != nil {
			time.Sleep(20 * time.Millisecond) // the daemon is down: poll for it
		}
	}
}

// pickAcked returns, once in 20 new batches, an acknowledged batch to send
// again.
func (f *feeder) pickAcked(rng *rand.Rand, resend bool) (pushBatch, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if resend || len(f.acked) == 0 || rng.IntN(20) != 0 {
		return pushBatch{}, false
	}
	return f.acked[rng.IntN(len(f.acked))], true
}

// take returns the oldest unacknowledged batch, or a new one while
// generating; the batch is in flight until run files it.
func (f *feeder) take(rng *rand.Rand) (pushBatch, bool, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.pending) > 0 {
		b := f.pending[0]
		f.pending = f.pending[1:]
		f.inFlight++
		return b, true, true
	}
	if !f.generating {
		return pushBatch{}, false, false
	}
	f.inFlight++
	n := 1 + rng.IntN(40)
	hot := hotNow(f.start)
	now := time.Now()
	var b pushBatch
	feats := make([]string, n)
	for i := range n {
		id := fmt.Sprintf("p-%d", f.next)
		f.next++
		lon, lat := recordPlace(rng, hot)
		feats[i] = reportFeature(id, lon, lat, now.Add(-time.Duration(rng.Int64N(int64(time.Second)))))
		b.ids = append(b.ids, id)
	}
	b.body = []byte(`{"type":"FeatureCollection","features":[` + strings.Join(feats, ",") + `]}`)
	return b, false, true
}

// send posts b: nil when it was acknowledged with every record stored.
func (f *feeder) send(ctx context.Context, b pushBatch) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url, bytes.NewReader(b.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/geo+json")
	resp, err := f.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		// The status was read, but a 200 whose body is cut short is still
		// a commit; treating it as unacknowledged only re-sends it.
		return err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnprocessableEntity {
		return fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	var r push.Response
	if err := json.Unmarshal(body, &r); err != nil {
		return err
	}
	if r.Stored != len(b.ids) || len(r.Rejected) > 0 {
		// Acknowledged, but not as sent: the test's records are all valid.
		f.mu.Lock()
		f.wrong = append(f.wrong, fmt.Sprintf("push answered %d %s for %d valid records", resp.StatusCode, body, len(b.ids)))
		f.mu.Unlock()
	}
	return nil
}

// drained reports whether every batch was acknowledged and none is in flight.
func (f *feeder) drained() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pending) == 0 && f.inFlight == 0
}

func (f *feeder) problems() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.wrong)
}

func (f *feeder) stopGenerating() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.generating = false
}

// counts returns the acknowledged batches and those waiting to be re-sent.
func (f *feeder) counts() (acked, pending int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.acked), len(f.pending)
}

func (f *feeder) ackedIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ids)
}

func (f *feeder) resent() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.resends
}

func (f *feeder) repeats() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.repeated
}

// spooler drops GeoJSON files into the spool as writers must: written as a
// dot-file, then renamed in.
type spooler struct {
	dir  string
	rng  *rand.Rand
	next int
}

func newSpooler(dir string, seed uint64) *spooler {
	return &spooler{dir: dir, rng: rand.New(rand.NewPCG(seed, 100))}
}

func (s *spooler) run(ctx context.Context, f *feeder) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(200*time.Millisecond + time.Duration(s.rng.Int64N(int64(800*time.Millisecond)))):
		}
		if err := s.drop(hotNow(f.start)); err != nil {
			panic(err) // the test's own temp dir: nothing else fails it
		}
	}
}

func (s *spooler) drop(hot bool) error {
	name := fmt.Sprintf("drop-%06d.geojson", s.next)
	s.next++
	n := 1 + s.rng.IntN(30)
	now := time.Now()
	feats := make([]string, n)
	for i := range n {
		lon, lat := recordPlace(s.rng, hot)
		feats[i] = reportFeature(fmt.Sprintf("%s#%d", strings.TrimSuffix(name, ".geojson"), i), lon, lat,
			now.Add(-time.Duration(s.rng.Int64N(int64(time.Second)))))
	}
	body := `{"type":"FeatureCollection","features":[` + strings.Join(feats, ",") + `]}`
	tmp := filepath.Join(s.dir, "."+name)
	if err := os.WriteFile(tmp, []byte(body), 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(s.dir, name))
}

// spooled lists the files still waiting in the spool.
func spooled(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out
}

// spoolIDs reads the feature ids of a spooled file.
func spoolIDs(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var fc struct {
		Features []struct {
			ID string `json:"id"`
		} `json:"features"`
	}
	if err := json.Unmarshal(data, &fc); err != nil {
		return nil, err
	}
	ids := make([]string, len(fc.Features))
	for i, ft := range fc.Features {
		ids[i] = ft.ID
	}
	return ids, nil
}
