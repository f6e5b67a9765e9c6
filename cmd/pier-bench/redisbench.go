package main

import "context"

// clusterSize is the number of servers of a cluster scenario (the redis-*
// scenarios): they share one redis-server, started for the run and pinned
// with them.
const clusterSize = 2

// redisNA is why the peers have no figure in the redis-* scenarios: they
// compare Pier's two Redis adapters under the same load.
const redisNA = "compares Pier's two Redis adapters; this server is not run in it"

// redisScenarios are the Redis adapter scenarios: the Socket.IO broadcast
// to a room of 1,000 at 50/s, the room spread over two Pier processes that
// share a redis-server, the sender on the first, once with the pub/sub
// adapter (redisadapter) and once with the streams adapter
// (redisadapter/streams). They report the servers' CPU per delivery (both
// processes added up) and the redis-server's CPU per broadcast.
func redisScenarios() []*scenario {
	na := map[string]string{"node": redisNA, "zishang520": redisNA, "floor": redisNA}
	return []*scenario{
		{Name: "redis-pubsub-broadcast-1000", Group: "redis", Mode: "sio", Default: true, Adapter: "pubsub", NA: na,
			Title: "Redis pub/sub adapter: 2 servers, broadcast to a room of 1,000, 50/s",
			Run:   func(ctx context.Context, e *env) (*result, error) { return runSIOBroadcast(ctx, e, 1000, 50) }},
		{Name: "redis-streams-broadcast-1000", Group: "redis", Mode: "sio", Default: true, Adapter: "streams", NA: na,
			Title: "Redis streams adapter: 2 servers, broadcast to a room of 1,000, 50/s",
			Run:   func(ctx context.Context, e *env) (*result, error) { return runSIOBroadcast(ctx, e, 1000, 50) }},
	}
}
