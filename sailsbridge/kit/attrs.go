package kit

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Attribute types of Model.Attributes, as in a Sails model's attributes.
const (
	TypeString  = "string"
	TypeNumber  = "number"
	TypeBoolean = "boolean"
	TypeJSON    = "json"
	TypeRef     = "ref"
)

// coerce returns v as a value of attribute type typ, the way Waterline
// normalizes what a request sends (observed for strings: a number or a
// boolean becomes its text; null, an object or an array is refused). ok
// is false, with the reason, for a value that does not fit.
func coerce(typ string, v any) (any, string, bool) {
	switch typ {
	case TypeString:
		switch t := v.(type) {
		case string:
			return t, "", true
		case int64:
			return strconv.FormatInt(t, 10), "", true
		case float64:
			return strconv.FormatFloat(t, 'f', -1, 64), "", true
		case bool:
			return strconv.FormatBool(t), "", true
		}
	case TypeNumber:
		switch t := v.(type) {
		case int64, float64:
			return t, "", true
		case string:
			if n, err := strconv.ParseFloat(strings.TrimSpace(t), 64); err == nil && !math.IsInf(n, 0) && !math.IsNaN(n) {
				if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
					return int64(n), "", true
				}
				return n, "", true
			}
		}
	case TypeBoolean:
		switch t := v.(type) {
		case bool:
			return t, "", true
		case string:
			if b, err := strconv.ParseBool(t); err == nil && (t == "true" || t == "false") {
				return b, "", true
			}
		}
	default: // json, ref, or undeclared: anything goes
		return v, "", true
	}
	if v == nil {
		return nil, fmt.Sprintf("null is not a valid %s (set the type's base value instead, or use type json)", typ), false
	}
	return nil, fmt.Sprintf("the value does not match the expected type: %s", typ), false
}

// baseValue is the value a declared attribute gets when a new record
// omits it (Waterline's base value of its type); ok is false for types
// that have none.
func baseValue(typ string) (any, bool) {
	switch typ {
	case TypeString:
		return "", true
	case TypeNumber:
		return int64(0), true
	case TypeBoolean:
		return false, true
	}
	return nil, false
}
