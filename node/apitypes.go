package node

import "github.com/gridswarm/gridswarm/api"

// The request and result types of the JSON-RPC methods live in package
// api, which the client shares without importing the daemon. These names
// keep the daemon's code reading as before.
type (
	IDInfo          = api.IDInfo
	SettleEvent     = api.SettleEvent
	VersionInfo     = api.VersionInfo
	Status          = api.Status
	QuarantinedFile = api.QuarantinedFile
	Progress        = api.Progress

	Peer          = api.Peer
	Announcement  = api.Announcement
	ConnectResult = api.ConnectResult
	FoundPeer     = api.FoundPeer
	PutResult     = api.PutResult
	RecordResult  = api.RecordResult

	AddResult    = api.AddResult
	AddedFile    = api.AddedFile
	WaitOptions  = api.WaitOptions
	GetOptions   = api.GetOptions
	Entry        = api.Entry
	PinOptions   = api.PinOptions
	UnpinOptions = api.UnpinOptions
	PinInfo      = api.PinInfo
	GCResult     = api.GCResult
	Stat         = api.Stat
	Exchange     = api.Exchange
	Holding      = api.Holding

	Summary      = api.Summary
	OfferOptions = api.OfferOptions
	LocalResult  = api.LocalResult
)
