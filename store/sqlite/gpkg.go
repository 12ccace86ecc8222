package sqlite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	sqlite3 "github.com/mattn/go-sqlite3"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
)

// srsWGS84 is the GeoPackage srs_id of every geometry geowatch writes.
const srsWGS84 = 4326

// GeoPackage binary header flags (spec 2.1.3): bit 0 little-endian header
// values, bits 1–3 the envelope kind (1 = minx, maxx, miny, maxy).
const (
	gpFlagLittleEndian = 0x01
	gpEnvelopeXY       = 1 << 1
	gpFlagEnvelopeMask = 0x0e
	gpFlagEmpty        = 0x10
)

// pointBlobSize is a GeoPackage point: 8 header bytes and a 21-byte WKB point.
const pointBlobSize = 29

// pointBlob encodes p as a GeoPackage geometry blob without an envelope (a point is
// its own envelope): 'GP', version 0, flags, srs_id, then little-endian WKB.
func pointBlob(p orb.Point) []byte {
	b := make([]byte, pointBlobSize)
	b[0], b[1], b[2], b[3] = 'G', 'P', 0, gpFlagLittleEndian
	binary.LittleEndian.PutUint32(b[4:], srsWGS84)
	b[8] = 1                                // WKB little-endian
	binary.LittleEndian.PutUint32(b[9:], 1) // wkbPoint
	binary.LittleEndian.PutUint64(b[13:], math.Float64bits(p[0]))
	binary.LittleEndian.PutUint64(b[21:], math.Float64bits(p[1]))
	return b
}

// geometryBlob encodes g as a GeoPackage blob with an XY envelope, which lets
// readers filter without parsing the WKB.
func geometryBlob(g orb.Geometry) ([]byte, error) {
	body, err := wkb.Marshal(g, binary.LittleEndian)
	if err != nil {
		return nil, err
	}
	bd := g.Bound()
	b := make([]byte, 8+32, 8+32+len(body))
	b[0], b[1], b[2], b[3] = 'G', 'P', 0, gpFlagLittleEndian|gpEnvelopeXY
	binary.LittleEndian.PutUint32(b[4:], srsWGS84)
	for i, v := range [4]float64{bd.Min[0], bd.Max[0], bd.Min[1], bd.Max[1]} {
		binary.LittleEndian.PutUint64(b[8+8*i:], math.Float64bits(v))
	}
	return append(b, body...), nil
}

var errNotGPKG = errors.New("not a GeoPackage geometry blob")

// envelopeSize returns the size in bytes of the envelope that flags announce.
func envelopeSize(flags byte) (int, error) {
	switch (flags & gpFlagEnvelopeMask) >> 1 {
	case 0:
		return 0, nil
	case 1:
		return 32, nil
	case 2, 3:
		return 48, nil
	case 4:
		return 64, nil
	}
	return 0, fmt.Errorf("%w: envelope code %d", errNotGPKG, (flags&gpFlagEnvelopeMask)>>1)
}

// decodeBlob reads a GeoPackage geometry blob.
func decodeBlob(b []byte) (orb.Geometry, error) {
	if len(b) < 8 || b[0] != 'G' || b[1] != 'P' {
		return nil, errNotGPKG
	}
	n, err := envelopeSize(b[3])
	if err != nil {
		return nil, err
	}
	if len(b) < 8+n {
		return nil, errNotGPKG
	}
	return wkb.Unmarshal(b[8+n:])
}

// blobBound returns the envelope of a GeoPackage blob: the stored one when
// present, else computed from the geometry. ok is false for empty or unreadable
// geometries.
func blobBound(b []byte) (bd orb.Bound, ok bool) {
	if len(b) < 8 || b[0] != 'G' || b[1] != 'P' || b[3]&gpFlagEmpty != 0 {
		return bd, false
	}
	n, err := envelopeSize(b[3])
	if err != nil || len(b) < 8+n {
		return bd, false
	}
	if n > 0 {
		var order binary.ByteOrder = binary.BigEndian
		if b[3]&gpFlagLittleEndian != 0 {
			order = binary.LittleEndian
		}
		f := func(i int) float64 { return math.Float64frombits(order.Uint64(b[8+8*i:])) }
		return orb.Bound{Min: orb.Point{f(0), f(2)}, Max: orb.Point{f(1), f(3)}}, true
	}
	g, err := wkb.Unmarshal(b[8:])
	if err != nil {
		return bd, false
	}
	return g.Bound(), true
}

// registerGPKGFunctions is the ConnectHook of every geowatch connection. It
// registers the functions the GeoPackage rtree triggers call, and sets the
// pragmas the DSN cannot.
//
// The suppressed-trigger trick: the standard triggers exist (the spec requires
// them, and GDAL and QGIS rely on them when they edit the file), but maintaining
// the R*Tree one row at a time inside the INSERT is the ingest bottleneck
// (bench/ingest-design.md). So in geowatch's own connections ST_IsEmpty answers
// 1 for every geometry, which makes each trigger's WHEN clause false, and the
// store writes the rtree rows itself in the same transaction: a bulk INSERT … SELECT
// for a batch's new rows, an UPDATE when an upsert moves a point, and one row per
// alert write. Readers therefore always see an rtree consistent with its table.
// Other programs bring their own ST_ functions, so their edits go through the
// triggers as usual.
//
// The writer goes one step further and runs no triggers at all (triggers.go),
// which also saves the per-row trigger frame; the inert ST_IsEmpty remains the
// fallback should that setting ever not apply.
//
// The ST_Min/Max functions are real: SQLite resolves every function a trigger
// names when it prepares a statement on the table, so they must exist, and an
// analyst attaching the file through geowatch's driver gets correct values.
func registerGPKGFunctions(c *sqlite3.SQLiteConn) error {
	fns := []struct {
		name string
		impl any
	}{
		{"ST_IsEmpty", func([]byte) int { return 1 }},
		{"ST_MinX", func(b []byte) any { return boundCoord(b, func(bd orb.Bound) float64 { return bd.Min[0] }) }},
		{"ST_MaxX", func(b []byte) any { return boundCoord(b, func(bd orb.Bound) float64 { return bd.Max[0] }) }},
		{"ST_MinY", func(b []byte) any { return boundCoord(b, func(bd orb.Bound) float64 { return bd.Min[1] }) }},
		{"ST_MaxY", func(b []byte) any { return boundCoord(b, func(bd orb.Bound) float64 { return bd.Max[1] }) }},
	}
	for _, f := range fns {
		if err := c.RegisterFunc(f.name, f.impl, true); err != nil {
			return fmt.Errorf("register %s: %w", f.name, err)
		}
	}
	if err := registerMathFunctions(c); err != nil {
		return err
	}
	// Pragmas go-sqlite3's DSN has no parameter for. A checkpoint every 20000
	// pages (160 MB) rather than 1000 cuts ingest's rewrites of hot rtree and
	// index pages (bench/ingest-design.md: 53k → 71k rows/s); journal_size_limit
	// gives the space back after. temp_store keeps sorts off the disk; mmap lets
	// readers skip a copy per page.
	_, err := c.Exec(`PRAGMA wal_autocheckpoint = 20000; PRAGMA journal_size_limit = 67108864;
		PRAGMA temp_store = MEMORY; PRAGMA mmap_size = 1073741824`, nil)
	return err
}

// boundCoord returns one coordinate of a blob's envelope, or NULL.
func boundCoord(b []byte, pick func(orb.Bound) float64) any {
	bd, ok := blobBound(b)
	if !ok {
		return nil
	}
	return pick(bd)
}
