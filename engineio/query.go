package engineio

import (
	"net/url"
	"strings"
)

// The query parameters the server reads, as indexes of queryFields.
const (
	qEIO = iota
	qTransport
	qSID
	qB64
	qJ
	qFields
)

var queryKeys = [qFields]string{"EIO", "transport", "sid", "b64", "j"}

// queryFields is what the server reads of a request's query: for each
// parameter it knows, its first value and how many times it occurs.
type queryFields struct {
	value [qFields]string
	count [qFields]int
}

func (q *queryFields) add(key, value string) {
	for i, k := range queryKeys {
		if k == key {
			if q.count[i] == 0 {
				q.value[i] = value
			}
			q.count[i]++
			return
		}
	}
}

// fastQueryParams bounds the parameters scanQuery reads itself.
const fastQueryParams = 64

// scanQuery reads raw as url.ParseQuery does, reporting false where
// ParseQuery fails. A query without escapes ('%', '+'), semicolons, or
// many parameters (the common case) is read in place, without
// allocating; any other goes through url.ParseQuery.
func scanQuery(raw string) (queryFields, bool) {
	var q queryFields
	if strings.ContainsAny(raw, "%+;") || strings.Count(raw, "&") >= fastQueryParams {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return q, false
		}
		for i, k := range queryKeys {
			if vs := v[k]; len(vs) > 0 {
				q.value[i], q.count[i] = vs[0], len(vs)
			}
		}
		return q, true
	}
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		q.add(k, v)
	}
	return q, true
}
