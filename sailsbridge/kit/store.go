package kit

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Record is one stored record: attribute name to value. Ids are int64
// (Sails' auto-increment number primary key, attribute "id"), a model
// attribute holds the id of the record it refers to (or nil), and a
// collection attribute holds the ids of its members ([]any of int64), as
// a store returns them; blueprint answers populate both (see Blueprints).
type Record map[string]any

// Criteria selects records for Store.Find: every Where entry must equal
// the record's value (numbers compare by value, a number and its decimal
// string are equal, a []any value means "any of"); then Sort, Skip and
// Limit (0: no limit) apply.
type Criteria struct {
	Where map[string]any
	Sort  []SortKey
	Skip  int
	Limit int
}

// SortKey orders Find results by one attribute.
type SortKey struct {
	Attr string
	Desc bool
}

// Store is the model storage a Sails app's Go port implements for the
// blueprints (Waterline's part in Sails). model is the identity. A
// missing record is (nil, nil), never an error. Records returned must be
// the caller's to keep (copies). Create assigns "id" (unless given),
// "createdAt" and "updatedAt" (ms since the epoch); Update sets
// "updatedAt". Writing a collection attribute (in Create or Update
// values, or through Add, Remove and Replace) moves the members: for a
// one-to-many association it sets the members' via attribute, as
// Waterline does, and for a many-to-many one both sides see the change;
// Destroy empties the record's collections the same way.
//
// Concurrency: the blueprints call a Store from many goroutines at once.
type Store interface {
	Find(ctx context.Context, model string, c Criteria) ([]Record, error)
	FindOne(ctx context.Context, model string, id any) (Record, error)
	Create(ctx context.Context, model string, values Record) (Record, error)
	Update(ctx context.Context, model string, id any, values Record) (Record, error)
	Destroy(ctx context.Context, model string, id any) (Record, error)
	Add(ctx context.Context, model string, id any, attr string, child any) error
	Remove(ctx context.Context, model string, id any, attr string, child any) error
	Replace(ctx context.Context, model string, id any, attr string, children []any) error
}

// ValidationError is a Store's refusal of the values given (the
// blueprints answer 400 with it, as Sails does for E_INVALID_NEW_RECORD
// and E_INVALID_VALUES_TO_SET); any other Store error is a 500.
type ValidationError struct{ Msg string }

func (e *ValidationError) Error() string { return e.Msg }

// Model describes one blueprint model: its identity (lower case, the
// event name and the URL prefix), its associations, and the types of the
// attributes it declares (name to TypeString, TypeNumber, TypeBoolean,
// TypeJSON or TypeRef). Values sent for a declared attribute are
// coerced as Waterline does (a number sent for a string is stored as its
// text; null, an object or an array is refused with a 400), and a new
// record gets the base value ("", 0, false) of each declared string,
// number or boolean attribute it omits. Undeclared attributes are stored
// as sent (Sails' schema: false).
type Model struct {
	Identity     string
	Attributes   map[string]string
	Associations []Association
}

// Association is a model attribute (Model set: holds one id of that
// model) or a collection attribute (Collection set: the members, found
// through the Via attribute of the collection's model: a model attribute
// for one-to-many, a collection for many-to-many).
type Association struct {
	Name       string
	Model      string
	Collection string
	Via        string
}

// Target returns the identity of the associated model.
func (a Association) Target() string {
	if a.Collection != "" {
		return a.Collection
	}
	return a.Model
}

// Schema is a set of models.
type Schema []Model

// model returns the model of identity.
func (s Schema) model(identity string) *Model {
	for i := range s {
		if s[i].Identity == identity {
			return &s[i]
		}
	}
	return nil
}

// assoc returns the association name of m.
func (m *Model) assoc(name string) *Association {
	for i := range m.Associations {
		if m.Associations[i].Name == name {
			return &m.Associations[i]
		}
	}
	return nil
}

// inverse returns the association on the other side of a (the collection
// a model attribute is the via of, or the via attribute of a
// collection), or nil.
func (s Schema) inverse(m *Model, a *Association) *Association {
	t := s.model(a.Target())
	if t == nil {
		return nil
	}
	if a.Collection != "" {
		return t.assoc(a.Via)
	}
	for i := range t.Associations {
		b := &t.Associations[i]
		if b.Collection == m.Identity && b.Via == a.Name {
			return b
		}
	}
	return nil
}

// NormalizeID returns v as an int64 id when it is an integer number or an
// integer's decimal string ("01" is 1, as Waterline parses path ids);
// ok is false otherwise. nil stays nil with ok true.
func NormalizeID(v any) (any, bool) {
	switch t := v.(type) {
	case nil:
		return nil, true
	case int64:
		return t, true
	case int:
		return int64(t), true
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return int64(t), true
		}
	case string:
		if i, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64); err == nil {
			return i, true
		}
	}
	return v, false
}

// sameID tells whether two normalized ids are equal.
func sameID(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return fmt.Sprint(a) == fmt.Sprint(b)
}
