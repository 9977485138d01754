package node

import "runtime/debug"

// Version is gridswarm's release version.
const Version = "0.1.0"

// ProtocolVersion names the wire protocol generation peers must share.
const ProtocolVersion = "gridswarm/1"

// UserAgent is what identify tells peers: our version and the VCS revision.
func UserAgent() string {
	ua := "gridswarm/" + Version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 7 {
				ua += "+" + s.Value[:7]
			}
		}
	}
	return ua
}
