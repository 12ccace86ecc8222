package sink_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/sink"
	"github.com/paulmach/orb"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

var t0 = time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)

func firing() monitor.Event {
	return monitor.Event{
		Alert: monitor.Alert{
			ID: 42, Watch: "vladivostok", Rule: "fires", RuleType: "count",
			Severity: monitor.SeverityWarning, State: monitor.StateFiring,
			RadiusMeters: 25000, Window: 6 * time.Hour,
			StartsAt: t0, UpdatedAt: t0,
			Finding: monitor.Finding{
				Count: 3, Weight: 3.5, Center: orb.Point{131.8855, 43.1155},
				Hull:      orb.Polygon{{{131.8, 43.1}, {131.9, 43.1}, {131.9, 43.2}, {131.8, 43.1}}},
				FirstSeen: t0.Add(-5 * time.Hour), LastSeen: t0.Add(-time.Hour),
				FIDs: []int64{7, 9, 12},
			},
		},
		// A non-UTC zone: the sinks must write UTC.
		Transition: monitor.Transition{ID: 100, AlertID: 42, At: t0.In(time.FixedZone("VLAT", 10*3600)), To: monitor.StateFiring},
	}
}

func resolved() monitor.Event {
	ev := firing()
	end := t0.Add(3 * time.Hour)
	ev.Alert.State, ev.Alert.EndsAt, ev.Alert.UpdatedAt = monitor.StateResolved, end, end
	ev.Transition = monitor.Transition{ID: 101, AlertID: 42, At: end, From: monitor.StateFiring, To: monitor.StateResolved}
	return ev
}

// wantFields is the log line's fields of firing() as a zap observer decodes them.
func wantFields() map[string]any {
	return map[string]any{
		"alert_id": int64(42), "watch": "vladivostok", "rule": "fires", "rule_type": "count",
		"severity": "warning", "state": "firing", "count": int64(3), "weight": 3.5,
		"radius_m": 25000.0, "window": "6h0m0s", "lat": 43.1155, "lon": 131.8855,
		"first_seen": "2026-11-26T13:00:00Z", "last_seen": "2026-11-26T17:00:00Z",
		"starts_at": "2026-11-26T18:00:00Z", "transition_id": int64(100),
	}
}

func TestLog(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	s := sink.NewLog(zap.New(core))
	want := wantFields()
	want["text"] = "vladivostok/fires: 3 reports within 25km in 6h"
	wantResolved := wantFields()
	wantResolved["state"], wantResolved["ends_at"], wantResolved["transition_id"] = "resolved", "2026-11-26T21:00:00Z", int64(101)
	wantResolved["text"] = "vladivostok/fires: 3 reports within 25km in 6h (resolved)"
	tests := []struct {
		name   string
		ev     monitor.Event
		msg    string
		fields map[string]any
	}{
		{"firing", firing(), "alert firing", want},
		{"resolved", resolved(), "alert resolved", wantResolved},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Notify(t.Context(), tc.ev); err != nil {
				t.Fatal(err)
			}
			got := logs.TakeAll()
			if len(got) != 1 {
				t.Fatalf("%d log lines, want 1", len(got))
			}
			if got[0].Message != tc.msg || got[0].Level != zapcore.InfoLevel {
				t.Errorf("message %q at %v, want %q at info", got[0].Message, got[0].Level, tc.msg)
			}
			if k := got[0].Context[0].Key; k != "text" {
				t.Errorf("first field %q, want text", k)
			}
			if m := got[0].ContextMap(); !reflect.DeepEqual(m, tc.fields) {
				t.Errorf("fields\n got %v\nwant %v", m, tc.fields)
			}
		})
	}
}

func TestFieldsOrder(t *testing.T) {
	var keys []string
	for _, f := range sink.Fields(resolved()) {
		keys = append(keys, f.Key)
	}
	want := []string{
		sink.KeyAlertID, sink.KeyWatch, sink.KeyRule, sink.KeyRuleType, sink.KeySeverity, sink.KeyState,
		sink.KeyCount, sink.KeyWeight, sink.KeyRadius, sink.KeyWindow, sink.KeyLat, sink.KeyLon,
		sink.KeyFirstSeen, sink.KeyLastSeen, sink.KeyStartsAt, sink.KeyEndsAt, sink.KeyTransitionID,
	}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("Fields keys = %v, want %v", keys, want)
	}
}

func TestNotifyUnknownState(t *testing.T) {
	ev := firing()
	ev.Transition.To = 0
	core, logs := observer.New(zapcore.DebugLevel)
	if err := sink.NewLog(zap.New(core)).Notify(t.Context(), ev); err == nil || logs.Len() != 0 {
		t.Errorf("Log.Notify(state 0) = %v with %d lines, want an error and no line", err, logs.Len())
	}
	f := openFile(t, filepath.Join(t.TempDir(), "alerts.jsonl"))
	if err := f.Notify(t.Context(), ev); err == nil {
		t.Error("File.Notify(state 0) = nil, want an error")
	}
}

func openFile(t *testing.T, path string) *sink.File {
	t.Helper()
	f, err := sink.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// readLines decodes every line of the file at path as a JSON object.
func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Errorf("%s does not end in a newline", path)
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("line %d: %v: %s", len(out)+1, err, sc.Text())
		}
		out = append(out, m)
	}
	return out
}

func TestFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	f := openFile(t, path)
	for _, ev := range []monitor.Event{firing(), resolved()} {
		if err := f.Notify(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	lines := readLines(t, path)
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2", len(lines))
	}
	want := map[string]any{}
	for k, v := range wantFields() {
		want[k] = v
	}
	want["msg"], want["ts"] = "alert firing", "2026-11-26T18:00:00Z"
	want["fids"] = []any{json.Number("7"), json.Number("9"), json.Number("12")}
	want["hull"] = map[string]any{"type": "Polygon", "coordinates": []any{[]any{
		[]any{json.Number("131.8"), json.Number("43.1")}, []any{json.Number("131.9"), json.Number("43.1")},
		[]any{json.Number("131.9"), json.Number("43.2")}, []any{json.Number("131.8"), json.Number("43.1")},
	}}}
	if got := normalize(lines[0]); !reflect.DeepEqual(got, normalize(want)) {
		t.Errorf("firing line\n got %v\nwant %v", got, normalize(want))
	}
	if lines[1]["msg"] != "alert resolved" || lines[1]["ends_at"] != "2026-11-26T21:00:00Z" || lines[1]["state"] != "resolved" {
		t.Errorf("resolved line = %v", lines[1])
	}
	if _, ok := lines[0]["ends_at"]; ok {
		t.Error("firing line has ends_at")
	}
}

// normalize turns numbers into their decimal text so that values decoded from JSON
// and written in Go compare equal.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = normalize(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = normalize(x)
		}
		return out
	case json.Number:
		return v.String()
	case int64, float64:
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		return string(b)
	}
	return v
}

func TestFileEmptyFinding(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	ev := firing()
	ev.Alert.Finding.Hull, ev.Alert.Finding.FIDs = nil, nil
	if err := openFile(t, path).Notify(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	line := readLines(t, path)[0]
	if hull, ok := line["hull"]; !ok || hull != nil {
		t.Errorf("hull = %v (present %v), want null", hull, ok)
	}
	if fids, ok := line["fids"].([]any); !ok || len(fids) != 0 {
		t.Errorf("fids = %v, want []", line["fids"])
	}
}

func TestFileRecreatedAfterRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "alerts.jsonl")
	f := openFile(t, path)
	if err := f.Notify(t.Context(), firing()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := f.Notify(t.Context(), resolved()); err != nil {
		t.Fatal(err)
	}
	if got := readLines(t, path+".1"); len(got) != 1 || got[0]["msg"] != "alert firing" {
		t.Errorf("rotated file = %v, want the firing line", got)
	}
	if got := readLines(t, path); len(got) != 1 || got[0]["msg"] != "alert resolved" {
		t.Errorf("new file = %v, want the resolved line", got)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := f.Notify(t.Context(), firing()); err != nil {
		t.Fatal(err)
	}
	if got := readLines(t, path); len(got) != 1 {
		t.Errorf("recreated file has %d lines, want 1", len(got))
	}
}

func TestFileCompletesCutLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	if err := os.WriteFile(path, []byte(`{"msg":"alert firing","watch":"x"}`+"\n"+`{"msg":"alert fir`), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := openFile(t, path).Notify(t.Context(), firing()); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 3 || lines[1] != `{"msg":"alert fir` || !json.Valid([]byte(lines[2])) {
		t.Errorf("file after a cut line:\n%s", data)
	}
}

func TestFileConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	f := openFile(t, path)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				if err := f.Notify(t.Context(), firing()); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if got := readLines(t, path); len(got) != 80 {
		t.Errorf("%d lines, want 80", len(got))
	}
}

func TestFileClose(t *testing.T) {
	f, err := sink.OpenFile(filepath.Join(t.TempDir(), "alerts.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if err := f.Notify(t.Context(), firing()); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Notify after Close = %v, want os.ErrClosed", err)
	}
}

func TestOpenFileErrorNamesPath(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "plain")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	readOnly := filepath.Join(dir, "ro")
	if err := os.Mkdir(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		root bool // whether the case fails for root too, who may write anywhere
	}{
		{"parent is a file", filepath.Join(notDir, "alerts.jsonl"), true},
		{"missing directory", filepath.Join(dir, "missing", "alerts.jsonl"), true},
		{"read-only directory", filepath.Join(readOnly, "alerts.jsonl"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.root && os.Geteuid() == 0 {
				t.Skip("root writes to read-only directories")
			}
			_, err := sink.OpenFile(tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.path) {
				t.Errorf("OpenFile(%q) = %v, want an error naming the path", tc.path, err)
			}
		})
	}
}
