package socketio

// ClusterHost is what a cluster adapter (one that carries broadcasts and
// requests between servers, such as package redisadapter) needs of its
// namespace beyond the public API. Applications have no use for it.
type ClusterHost interface {
	// NextAckID reserves an acknowledgement id of the namespace, for a
	// broadcast with acknowledgements that another server asked for: the
	// ids of local and remote waiters never collide.
	NextAckID() int64
	// ServerSideEmit runs the namespace's handler (Namespace.OnServerSideEmit)
	// of an event another server emitted; ack, when not nil, answers it.
	ServerSideEmit(event string, args Args, ack func(args ...any))
}

// HostOf returns the ClusterHost of namespace n, for the adapter its
// AdapterFactory builds.
func HostOf(n *Namespace) ClusterHost { return clusterHost{n} }

type clusterHost struct{ n *Namespace }

func (h clusterHost) NextAckID() int64 { return h.n.nextAckID() }

func (h clusterHost) ServerSideEmit(event string, args Args, ack func(args ...any)) {
	h.n.handleServerSideEmit(event, args, ack)
}
