package redisadapter

import "testing"

// TestKeySlot checks keySlot against the CLUSTER KEYSLOT answers of a
// Redis 7.0.15 cluster (recorded from a real one), and the
// hashtag rules of the Redis Cluster specification.
func TestKeySlot(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want uint16
	}{
		{"socket.io-request#/#", 12937},
		{"socket.io#/#", 13868},
		{"socket.io#/#room1#", 9640},
		{"socket.io#/#goroom#", 15378},
		{"socket.io#/#{x}room1#", 16287},
		{"socket.io#/#{x}other#", 16287},
		{"x", keySlot("{x}")},
		{"a{b}{c}", keySlot("b")},
		{"a{{b}}", keySlot("{b")},
	} {
		if got := keySlot(tc.key); got != tc.want {
			t.Errorf("keySlot(%q) = %d, want %d", tc.key, got, tc.want)
		}
	}
	if keySlot("{}x") == keySlot("x") { // an empty tag: the whole key counts
		t.Error("an empty hashtag was used")
	}
}
