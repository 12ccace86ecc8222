package monitor

import (
	"runtime/debug"
	"strings"
)

// Version returns geowatch's version as stamped into the binary by the go
// command (a module version such as "1.2.0"), or "devel" for a build from a
// work tree.
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return strings.TrimPrefix(bi.Main.Version, "v")
	}
	return "devel"
}
