package p2p

import pubsub "github.com/libp2p/go-libp2p-pubsub"

type pubsubResult = pubsub.ValidationResult

const (
	accept = pubsub.ValidationAccept
	reject = pubsub.ValidationReject
	ignore = pubsub.ValidationIgnore
)
