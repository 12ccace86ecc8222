package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"gopkg.in/natefinch/lumberjack.v2"
)

// FileMode is the permission an alerts file is created with (before the umask):
// the daemon writes it, its group (analysts) reads it.
const FileMode = 0o640

// File appends alert events to a JSON-lines file, one object per line with the
// keys the package doc lists. It is safe for concurrent use.
//
// Each line goes to the file in one write on a file opened O_APPEND, so readers
// never see two lines interleaved, and is fsynced before Notify returns: the engine
// marks a transition notified when Notify succeeds, and alerts are few, so the sync
// is what makes that mark true after a power cut. Before each write File checks that
// the path still names the file it holds, so a file rotated away or deleted is
// recreated; a failed write closes the file and the next Notify reopens it.
//
// With a Rotation (OpenRotatingFile) File rotates the file itself by size; see
// Rotation for what changes.
type File struct {
	path string

	mu     sync.Mutex
	f      *os.File // nil until (re)opened; unused when rotating
	rot    *lumberjack.Logger
	held   os.FileInfo // rotating: the file the path named after the last write
	closed bool
}

var _ monitor.Notifier = (*File)(nil)

// OpenFile opens or creates the alerts file at path, so that a bad path fails at
// startup rather than at the first alert. The directory must exist. The file is
// never rotated by File: logrotate may move it away (see File).
func OpenFile(path string) (*File, error) {
	s := &File{path: path}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

// lineEncoder encodes an event as the alerts file's line and the webhook's body.
// zap's JSON encoder writes the same keys and values as the log line. EncodeEntry
// works on a clone, so concurrent calls are safe.
var lineEncoder = zapcore.NewJSONEncoder(zapcore.EncoderConfig{
	MessageKey:     "msg",
	TimeKey:        "ts",
	EncodeTime:     func(t time.Time, e zapcore.PrimitiveArrayEncoder) { e.AppendString(timestamp(t)) },
	EncodeDuration: zapcore.StringDurationEncoder,
	LineEnding:     "\n",
})

// Name returns "file:" and the file's path.
func (s *File) Name() string { return "file:" + s.path }

// Path returns the file's path.
func (s *File) Path() string { return s.path }

// Notify appends ev as one line and syncs the file.
func (s *File) Notify(ctx context.Context, ev monitor.Event) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sink: %s: %w", s.path, err)
	}
	line, err := eventJSON(ev)
	if err != nil {
		return fmt.Errorf("sink: %s: %w", s.path, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("sink: %s: %w", s.path, os.ErrClosed)
	}
	if s.rot != nil {
		return s.writeRotating(line)
	}
	if err := s.reopenIfMoved(); err != nil {
		return err
	}
	if _, err := s.f.Write(line); err != nil {
		s.drop()
		return fmt.Errorf("sink: write %s: %w", s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		s.drop()
		return fmt.Errorf("sink: sync %s: %w", s.path, err)
	}
	return nil
}

// eventJSON encodes ev as one JSON object and a newline: the keys the package
// doc lists, with msg, ts, hull and fids.
func eventJSON(ev monitor.Event) ([]byte, error) {
	msg, err := Message(ev)
	if err != nil {
		return nil, err
	}
	hull := zap.Reflect(KeyHull, nil)
	if h := ev.Alert.Finding.Hull; len(h) > 0 {
		hull = zap.Reflect(KeyHull, polygon{Type: "Polygon", Coordinates: h})
	}
	fids := ev.Alert.Finding.FIDs
	if fids == nil {
		fids = []int64{} // an empty array, not null: the key always holds a list
	}
	buf, err := lineEncoder.EncodeEntry(
		zapcore.Entry{Message: msg, Time: ev.Transition.At},
		append(Fields(ev), hull, zap.Int64s(KeyFIDs, fids)),
	)
	if err != nil {
		return nil, fmt.Errorf("encode transition %d: %w", ev.Transition.ID, err)
	}
	defer buf.Free()
	return append([]byte(nil), buf.Bytes()...), nil
}

// polygon is a GeoJSON Polygon geometry: an orb.Polygon marshals as its
// coordinates array already. orb/geojson would do the same but pulls in a BSON
// library for its other encodings.
type polygon struct {
	Type        string      `json:"type"`
	Coordinates orb.Polygon `json:"coordinates"`
}

// reopenIfMoved makes s.f the file the path names now.
func (s *File) reopenIfMoved() error {
	if s.f != nil {
		held, err1 := s.f.Stat()
		named, err2 := os.Stat(s.path)
		if err1 == nil && err2 == nil && os.SameFile(held, named) {
			return nil
		}
		s.drop()
	}
	return s.open()
}

// open opens or creates the file at the path. A file that does not end in a newline
// (a write cut short, by us or a crash) gets one first, so the next line is whole.
func (s *File) open() error {
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, FileMode)
	if err != nil {
		return fmt.Errorf("sink: open alerts file: %w", err) // *PathError names the path
	}
	if err := terminateLine(f); err != nil {
		f.Close()
		return fmt.Errorf("sink: repair %s: %w", s.path, err)
	}
	s.f = f
	return nil
}

func terminateLine(f *os.File) error {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return err
	}
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, st.Size()-1); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if last[0] == '\n' {
		return nil
	}
	_, err = f.Write([]byte{'\n'})
	return err
}

// drop closes the held file after a failure; the next Notify opens it again.
func (s *File) drop() {
	if s.f != nil {
		s.f.Close() // the error that brought us here is the one worth reporting
		s.f = nil
	}
}

// Close syncs and closes the file. Notify fails after Close.
func (s *File) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.rot != nil {
		s.held = nil
		if err := s.rot.Close(); err != nil { // each line was synced when written
			return fmt.Errorf("sink: close %s: %w", s.path, err)
		}
		return nil
	}
	if s.f == nil {
		return nil
	}
	err := errors.Join(s.f.Sync(), s.f.Close())
	s.f = nil
	if err != nil {
		return fmt.Errorf("sink: close %s: %w", s.path, err)
	}
	return nil
}
