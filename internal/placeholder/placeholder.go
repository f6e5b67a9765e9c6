// Package placeholder writes the JSON object that stands for a binary
// attachment in Socket.IO packets, {"_placeholder":true,"num":N}: one
// spelling for the parsers of socketio and the cluster adapters' codecs.
package placeholder

import "strconv"

// Prefix starts every placeholder written by Append.
const Prefix = `{"_placeholder":true,"num":`

// Append appends the placeholder of attachment n to dst.
func Append(dst []byte, n int) []byte {
	dst = append(dst, Prefix...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, '}')
}
