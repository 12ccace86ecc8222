package sink_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/sink"
)

// bigEvent is an event whose line is about 200 KB, so a 1 MB file rotates after
// a handful of lines.
func bigEvent(id int64) monitor.Event {
	ev := firing()
	ev.Transition.ID = id
	ev.Alert.Finding.FIDs = make([]int64, 20_000)
	for i := range ev.Alert.Finding.FIDs {
		ev.Alert.Finding.FIDs[i] = 1_000_000 + int64(i)
	}
	return ev
}

func openRotating(t *testing.T, path string, r sink.Rotation) *sink.File {
	t.Helper()
	f, err := sink.OpenRotatingFile(path, r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// alertFiles returns the alerts file and its backups in dir.
func alertFiles(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "alerts*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestRotatingFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "alerts.jsonl")
	f := openRotating(t, path, sink.Rotation{MaxSizeMB: 1})
	const n = 12
	for i := range n {
		if err := f.Notify(t.Context(), bigEvent(int64(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	files := alertFiles(t, dir)
	if len(files) < 2 {
		t.Fatalf("files %v, want the alerts file and backups", files)
	}
	// Every line is whole, in some file, and each transition is there once.
	seen := map[int64]int{}
	for _, name := range files {
		st, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > 1<<20 {
			t.Errorf("%s is %d bytes, over 1 MiB", name, st.Size())
		}
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 0 && data[len(data)-1] != '\n' {
			t.Errorf("%s does not end in a newline", name)
		}
		for line := range strings.Lines(string(data)) {
			var obj struct {
				TransitionID int64 `json:"transition_id"`
			}
			if err := json.Unmarshal([]byte(line), &obj); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			seen[obj.TransitionID]++
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct transitions in %v, want %d", len(seen), files, n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("transition %d written %d times", id, c)
		}
	}
}

func TestRotatingFileMaxBackups(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "alerts.jsonl")
	f := openRotating(t, path, sink.Rotation{MaxSizeMB: 1, MaxBackups: 1})
	for i := range 20 {
		if err := f.Notify(t.Context(), bigEvent(int64(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	// lumberjack removes old backups in its own goroutine after a rotation.
	deadline := time.Now().Add(10 * time.Second)
	for len(alertFiles(t, dir)) > 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if files := alertFiles(t, dir); len(files) != 2 {
		t.Errorf("files %v, want the alerts file and 1 backup", files)
	}
}

func TestRotatingFileRecreated(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "alerts.jsonl")
	f := openRotating(t, path, sink.Rotation{MaxSizeMB: 1})
	if err := f.Notify(t.Context(), firing()); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := f.Notify(t.Context(), resolved()); err != nil {
		t.Fatal(err)
	}
	if got := readLines(t, path); len(got) != 1 || got[0]["msg"] != "alert resolved" {
		t.Errorf("recreated file = %v, want the resolved line", got)
	}
}

func TestRotatingFileCompletesCutLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	if err := os.WriteFile(path, []byte(`{"msg":"alert fir`), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := openRotating(t, path, sink.Rotation{MaxSizeMB: 1}).Notify(t.Context(), firing()); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n"); len(lines) != 2 {
		t.Errorf("file after a cut line:\n%s", data)
	}
}

func TestRotatingFileClose(t *testing.T) {
	f, err := sink.OpenRotatingFile(filepath.Join(t.TempDir(), "alerts.jsonl"), sink.Rotation{MaxSizeMB: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Notify(t.Context(), firing()); err == nil {
		t.Error("Notify after Close = nil, want an error")
	}
}
