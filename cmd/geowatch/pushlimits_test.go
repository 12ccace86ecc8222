package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// pushDaemon runs the daemon in-process on a config with a push source named
// field, the http block's extra keys (indented two spaces) and the database
// at dbPath; it returns the base URL once /readyz answers.
func pushDaemon(t *testing.T, dbPath, httpExtra string) (string, *inProcess) {
	t.Helper()
	return pushDaemonAuth(t, dbPath, httpExtra, "")
}

// pushDaemonAuth is pushDaemon with the bearer token readiness is polled with.
func pushDaemonAuth(t *testing.T, dbPath, httpExtra, token string) (string, *inProcess) {
	t.Helper()
	return pushDaemonConfig(t, dbPath, "", httpExtra, token)
}

// pushDaemonConfig is pushDaemonAuth with top-level keys too.
func pushDaemonConfig(t *testing.T, dbPath, top, httpExtra, token string) (string, *inProcess) {
	t.Helper()
	addr := freeAddr(t)
	cfgPath := filepath.Join(t.TempDir(), "geowatch.yaml")
	writeFile(t, cfgPath, `database: `+dbPath+`
`+top+`http:
  listen: `+addr+`
  rate: 0
`+httpExtra+`
sources:
  - name: field
    type: push
    kind: field_report
watches:
  - {name: vlad, lat: 43.1, lon: 131.9, radius: 50km, schedule: "@every 1h", rules: [{type: count, min: 1000000, window: 1h}]}
`)
	out := &syncBuffer{}
	r := runInProcess(t, cfgPath, out)
	base := "http://" + addr
	r.waitFor(t, "readiness", func() bool {
		req, _ := http.NewRequest("GET", base+"/readyz", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return base, r
}

// pushBody is a FeatureCollection of n features with ids prefix-0…, each with
// a title of titleBytes bytes.
func pushBody(prefix string, n, titleBytes int) string {
	now := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	title := strings.Repeat("x", titleBytes)
	fs := make([]string, n)
	for i := range fs {
		fs[i] = fmt.Sprintf(`{"type":"Feature","id":"%s-%d","geometry":{"type":"Point","coordinates":[131.88,43.11]},"properties":{"time":%q,"title":%q}}`,
			prefix, i, now, title)
	}
	return `{"type":"FeatureCollection","features":[` + strings.Join(fs, ",") + `]}`
}

type pushAnswer struct {
	code       int
	retryAfter string
	body       string
	took       time.Duration
}

func postPush(t *testing.T, client *http.Client, base, body string) pushAnswer {
	t.Helper()
	start := time.Now()
	resp, err := client.Post(base+"/v1/observations", "application/geo+json", strings.NewReader(body))
	if err != nil {
		t.Errorf("POST: %v", err)
		return pushAnswer{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return pushAnswer{resp.StatusCode, resp.Header.Get("Retry-After"), string(b), time.Since(start)}
}

// TestPushWriterWait: while an analyst holds the write lock (BEGIN IMMEDIATE),
// every one of 20 concurrent pushes is answered 503 with Retry-After once its
// write_wait has passed, not one after the other behind the busy timeout; once
// the lock is released pushes are stored again.
func TestPushWriterWait(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "geowatch.gpkg")
	base, _ := pushDaemon(t, dbPath, "  write_wait: 1s\n")

	analyst, err := sql.Open(analystDriver, "file:"+dbPath+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer analyst.Close()
	tx, err := analyst.Begin()
	if err != nil {
		t.Fatal(err)
	}
	const pushers = 20
	client := &http.Client{Timeout: time.Minute}
	answers := make([]pushAnswer, pushers)
	var wg sync.WaitGroup
	for i := range pushers {
		wg.Go(func() { answers[i] = postPush(t, client, base, pushBody(fmt.Sprintf("held%d", i), 3, 10)) })
	}
	wg.Wait()
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	var took []time.Duration
	for i, a := range answers {
		if a.code != http.StatusServiceUnavailable || a.retryAfter == "" {
			t.Errorf("push %d under a held lock = %d (Retry-After %q) %s, want 503 with Retry-After", i, a.code, a.retryAfter, a.body)
		}
		took = append(took, a.took)
	}
	slices.Sort(took)
	t.Logf("503 latency under a held lock, %d pushers, write_wait 1s: min %v, p50 %v, max %v",
		pushers, took[0].Round(time.Millisecond), took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
	// Generous: the point is that no request queues behind the others' waits
	// (before, the n-th waited n × the 5 s busy timeout).
	if took[len(took)-1] > 4*time.Second {
		t.Errorf("slowest 503 took %v, want about write_wait (1s)", took[len(took)-1])
	}
	if a := postPush(t, client, base, pushBody("after", 3, 10)); a.code != 200 {
		t.Errorf("push after the lock was released = %d %s, want 200", a.code, a.body)
	}
	var resp struct{ Stored int }
	_ = json.Unmarshal([]byte(postPush(t, client, base, pushBody("after", 3, 10)).body), &resp)
	if resp.Stored != 3 {
		t.Errorf("repeat push stored %d, want 3", resp.Stored)
	}
}

// TestPushFullDisk fills a small tmpfs under the database: /readyz turns 503
// while pushes fail (the write lock can still be taken), the failures are one
// error line however many pushes fail, and once space is freed a push is
// stored, readiness comes back and the streak's count is logged. It needs root
// to mount the tmpfs; elsewhere it skips, except under CI.
func TestPushFullDisk(t *testing.T) {
	dir := t.TempDir()
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir).Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("mount tmpfs (CI runs as root): %v", err)
		}
		t.Skipf("cannot mount a tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() }) //nolint:errcheck // best effort
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(dir, "geowatch.gpkg")
	base, r := pushDaemon(t, dbPath, "")
	client := &http.Client{Timeout: time.Minute}
	ready := func() (int, string) {
		resp, err := client.Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	stored, failed := 0, 0
	for i := 0; failed < 10; i++ {
		if i == 200 {
			t.Fatalf("no push failed after %d pushes (%d stored): is the tmpfs mounted?", i, stored)
		}
		a := postPush(t, client, base, pushBody(fmt.Sprintf("fill%d", i), 50, 2000))
		switch a.code {
		case 200:
			stored++
		case 503:
			failed++
		default:
			t.Fatalf("push %d = %d %s, want 200 or 503", i, a.code, a.body)
		}
	}
	if code, body := ready(); code != 503 || body != "not ready: store\n" {
		t.Errorf("/readyz on a full disk = %d %q, want 503 \"not ready: store\"", code, body)
	}
	if n := len(r.out.find(t, "push ingest failed")); n != 1 {
		t.Errorf("%d \"push ingest failed\" lines for %d failed pushes, want 1", n, failed)
	}
	msgs := map[string]int{}
	for _, l := range r.out.lines(t) {
		if l["level"] == "error" || l["level"] == "warn" {
			msgs[fmt.Sprint(l["msg"])]++
		}
	}
	t.Logf("warnings and errors on the full disk: %v", msgs)
	t.Logf("full disk: %d pushes stored, then %d failed with 503; readyz 503; 1 error line", stored, failed)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if a := postPush(t, client, base, pushBody("freed", 5, 10)); a.code != 200 {
		t.Fatalf("push after space was freed = %d %s, want 200", a.code, a.body)
	}
	if code, body := ready(); code != 200 {
		t.Errorf("/readyz after space was freed = %d %q, want 200", code, body)
	}
	rec := r.out.find(t, "push ingest recovered")
	if len(rec) != 1 || rec[0]["failures"] != float64(failed) {
		t.Errorf("recovery lines = %v, want one with failures %d", rec, failed)
	}
}

// TestStatusToken: with metrics_auth: token, /metrics and /readyz need the
// push token, and /healthz stays open.
func TestStatusToken(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeFile(t, tokenFile, "s3cret\n")
	base, _ := pushDaemonAuth(t, filepath.Join(t.TempDir(), "geowatch.gpkg"), "  token_file: "+tokenFile+"\n  metrics_auth: token\n", "s3cret")
	get := func(path, token string) int {
		req, _ := http.NewRequest("GET", base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		path, token string
		want        int
	}{
		{"/metrics", "", 401}, {"/metrics", "wrong", 401}, {"/metrics", "s3cret", 200},
		{"/readyz", "", 401}, {"/readyz", "s3cret", 200},
		{"/healthz", "", 200},
	} {
		if got := get(tc.path, tc.token); got != tc.want {
			t.Errorf("GET %s with token %q = %d, want %d", tc.path, tc.token, got, tc.want)
		}
	}
}

// TestWALGauge: geowatch_wal_bytes is on /metrics, and wal_warn and wal_max
// reach the store (a wal_max below the WAL's size refuses pushes with 503).
// The growth under a long reader, the warnings and the refusal itself are
// driven in store's TestWALLimits, where the reader's snapshot is certain to
// pin WAL frames.
func TestWALGauge(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "geowatch.gpkg")
	base, _ := pushDaemonConfig(t, dbPath, "wal_warn: 64KiB\nwal_max: 128KiB\n", "", "")
	client := &http.Client{Timeout: time.Minute}
	// An analyst's open read transaction holds its snapshot, so no checkpoint
	// can truncate the WAL under it: the WAL grows with every push until
	// wal_max refuses one, however fast the checkpointer runs (without the
	// reader, whether a push sees the WAL past wal_max is a race).
	ro, err := sql.Open("sqlite3", "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	reader, err := ro.BeginTx(t.Context(), &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Rollback()
	var n int
	if err := reader.QueryRow(`SELECT count(*) FROM observations`).Scan(&n); err != nil { // takes the snapshot
		t.Fatal(err)
	}
	var refused pushAnswer
	for i := 0; refused.code == 0; i++ {
		if i == 100 {
			t.Fatal("no push refused at wal_max 128KiB")
		}
		if a := postPush(t, client, base, pushBody(fmt.Sprintf("g%d", i), 50, 1000)); a.code == 503 {
			refused = a
		}
	}
	if refused.retryAfter == "" || !strings.Contains(refused.body, "store unavailable") {
		t.Errorf("refusal = %+v, want 503 with Retry-After", refused)
	}
	resp, err := client.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`(?m)^geowatch_wal_bytes (\S+)$`).FindStringSubmatch(string(body))
	if m == nil {
		t.Fatal("/metrics lacks geowatch_wal_bytes")
	}
	// The gauge reads the WAL's size at scrape time, and the reader keeps it
	// past wal_max.
	if v, err := strconv.ParseFloat(m[1], 64); err != nil || v < 128<<10 {
		t.Errorf("geowatch_wal_bytes = %q (%v), want at least wal_max (128 KiB) under the reader", m[1], err)
	}
}
