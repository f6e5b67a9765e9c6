package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

// field is one settable key of Config.
type field struct {
	key    string // dotted YAML path: cors.origin
	env    string // PIER_CORS_ORIGIN
	help   string
	secret string // "true", "url" or ""
	v      reflect.Value
}

var durationType = reflect.TypeFor[Duration]()

// fields lists the keys of c, in declaration order, addressing c's fields.
func fields(c *Config) []field {
	var out []field
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		t := v.Type()
		for i := range t.NumField() {
			sf := t.Field(i)
			name := sf.Tag.Get("yaml")
			if name == "" || name == "-" {
				continue
			}
			key := prefix + name
			fv := v.Field(i)
			if sf.Type.Kind() == reflect.Struct && sf.Type != durationType {
				walk(fv, key+".")
				continue
			}
			out = append(out, field{key: key, env: envName(key), help: sf.Tag.Get("help"), secret: sf.Tag.Get("secret"), v: fv})
		}
	}
	walk(reflect.ValueOf(c).Elem(), "")
	return out
}

// envName turns a dotted camelCase key into its environment variable:
// session.cookie.maxAge is PIER_SESSION_COOKIE_MAX_AGE.
func envName(key string) string {
	var b strings.Builder
	b.WriteString("PIER_")
	rs := []rune(key)
	for i, r := range rs {
		switch {
		case r == '.':
			b.WriteByte('_')
		case unicode.IsUpper(r) && i > 0 && (unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1]) ||
			(i+1 < len(rs) && unicode.IsLower(rs[i+1]) && unicode.IsUpper(rs[i-1]))):
			b.WriteByte('_')
			b.WriteRune(r)
		default:
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	return b.String()
}

// set parses s into the field's value: lists are comma-separated.
func (f field) set(s string) error {
	v := f.v
	switch {
	case v.Type() == durationType:
		d, err := parseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("invalid boolean %q: want true or false", s)
		}
		v.SetBool(b)
	case v.Kind() == reflect.Int || v.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("invalid integer %q", s)
		}
		v.SetInt(n)
	case v.Kind() == reflect.Slice:
		var list []string
		for part := range strings.SplitSeq(s, ",") {
			if p := strings.TrimSpace(part); p != "" {
				list = append(list, p)
			}
		}
		v.Set(reflect.ValueOf(list))
	default:
		return fmt.Errorf("unsupported type %s", v.Type())
	}
	return nil
}

// isBool reports whether the field is a flag without a value (-metrics).
func (f field) isBool() bool { return f.v.Kind() == reflect.Bool }

// loader assembles a Config and remembers where each key was set, so that
// errors name it there.
type loader struct {
	cfg    Config
	fields map[string]field
	source map[string]string // key -> "file.yaml:12", "PIER_X", "-x"
	seen   map[string]bool   // keys (and mappings) written in the file
}

func newLoader() *loader {
	l := &loader{cfg: defaultConfig(), fields: map[string]field{}, source: map[string]string{}, seen: map[string]bool{}}
	for _, f := range fields(&l.cfg) {
		l.fields[f.key] = f
	}
	return l
}

// loadFile applies a YAML file. Unknown keys, wrong shapes and bad values
// are errors naming the key and its line.
func (l *loader) loadFile(name string) error {
	data, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil // an empty file
	}
	var errs []error
	l.walk(name, doc.Content[0], "", &errs)
	if l.seen["connectionStateRecovery"] && !l.seen["connectionStateRecovery.enabled"] {
		l.cfg.ConnectionStateRecovery.Enabled = true
	}
	return errors.Join(errs...)
}

func (l *loader) walk(file string, n *yaml.Node, prefix string, errs *[]error) {
	at := func(n *yaml.Node) string { return fmt.Sprintf("%s:%d", file, n.Line) }
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		what := "the file"
		if prefix != "" {
			what = "key " + strings.TrimSuffix(prefix, ".")
		}
		*errs = append(*errs, fmt.Errorf("%s: %s must be a mapping of keys", at(n), what))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		key := prefix + kn.Value
		if vn.Kind == yaml.AliasNode {
			vn = vn.Alias
		}
		if l.seen[key] {
			*errs = append(*errs, fmt.Errorf("%s: key %s is set twice", at(kn), key))
			continue
		}
		l.seen[key] = true
		if f, ok := l.fields[key]; ok {
			l.source[key] = at(kn)
			if err := l.setNode(f, vn); err != nil {
				*errs = append(*errs, fmt.Errorf("%s: key %s: %w", at(kn), key, err))
			}
			continue
		}
		if l.isMapping(key) {
			if vn.Kind == yaml.ScalarNode && vn.Tag == "!!null" {
				continue
			}
			l.walk(file, vn, key+".", errs)
			continue
		}
		*errs = append(*errs, fmt.Errorf("%s: unknown key %s%s", at(kn), key, l.suggest(key)))
	}
}

// isMapping reports whether key is a nested mapping of Config (cors, redis).
func (l *loader) isMapping(key string) bool {
	for k := range l.fields {
		if strings.HasPrefix(k, key+".") {
			return true
		}
	}
	return false
}

// suggest names a known key that differs from key only in case.
func (l *loader) suggest(key string) string {
	for k := range l.fields {
		if strings.EqualFold(k, key) {
			return " (did you mean " + k + "?)"
		}
	}
	return ""
}

// setNode sets a field from a YAML value: a scalar, or for lists a
// sequence of scalars (or one comma-separated scalar).
func (l *loader) setNode(f field, n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil // "key:" alone keeps the default
		}
		return f.set(n.Value)
	case yaml.SequenceNode:
		if f.v.Kind() != reflect.Slice {
			return fmt.Errorf("a list is not allowed here")
		}
		list := []string{}
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: list items must be plain values", item.Line)
			}
			list = append(list, item.Value)
		}
		f.v.Set(reflect.ValueOf(list))
		return nil
	default:
		return fmt.Errorf("a mapping is not allowed here")
	}
}

// loadEnv applies the PIER_* variables of environ (NODE_ENV=production
// too, below PIER_ENVIRONMENT), and REDIS_URL below PIER_REDIS_URL.
func (l *loader) loadEnv(environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	known := map[string]bool{}
	var errs []error
	for _, f := range fields(&l.cfg) {
		known[f.env] = true
		v, ok := env[f.env]
		switch {
		case ok:
		case f.key == "environment" && env["NODE_ENV"] == "production":
			v, ok = "production", true
		case f.key == "redis.url" && env["REDIS_URL"] != "":
			v, ok = env["REDIS_URL"], true
		case f.key == "redis.cluster" && env["REDIS_CLUSTER"] != "":
			v, ok = "true", true
		}
		if !ok {
			continue
		}
		l.source[f.key] = f.env
		if err := f.set(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.env, err))
		}
	}
	for k := range env {
		if strings.HasPrefix(k, "PIER_") && !known[k] && k != "PIER_CONFIG" {
			errs = append(errs, fmt.Errorf("%s: unknown variable (no such key)", k))
		}
	}
	return errors.Join(errs...)
}

// flagValue records a flag until the file and the environment are applied.
type flagValue struct {
	l    *loader
	f    field
	name string
	set  *[]func() error
}

func (v flagValue) String() string   { return "" }
func (v flagValue) IsBoolFlag() bool { return v.f.isBool() }
func (v flagValue) Set(s string) error {
	f, name, l := v.f, v.name, v.l
	*v.set = append(*v.set, func() error {
		l.source[f.key] = "-" + name
		if err := f.set(s); err != nil {
			return fmt.Errorf("-%s: %w", name, err)
		}
		return nil
	})
	return nil
}

// aliases are the flags of earlier releases, kept working.
var aliases = map[string]string{
	"log-level":     "logLevel",
	"redis":         "redis.url",
	"redis-cluster": "redis.cluster",
	"redis-sharded": "redis.sharded",
	"sails-js":      "sailsJs",
	"client-dir":    "clientDir",
	"upstream":      "upstream.url",
}

// options is a parsed command line of `pier` (serve).
type options struct {
	cfg    Config
	file   string
	source map[string]string
}

// loadConfig parses args (flags only; stray arguments are errors) and
// assembles the configuration: flags over environ over the -config file
// over the defaults. It returns flag.ErrHelp after printing the usage for
// -h.
func loadConfig(name string, args, environ []string, usage func(*flag.FlagSet)) (*options, error) {
	l := newLoader()
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	file := fs.String("config", "", "YAML configuration file (PIER_CONFIG)")
	var pending []func() error
	for _, f := range fields(&l.cfg) {
		fs.Var(flagValue{l, f, f.key, &pending}, f.key, f.help)
	}
	for alias, key := range aliases {
		f := l.fields[key]
		fs.Var(flagValue{l, f, alias, &pending}, alias, "same as -"+key)
	}
	if usage != nil {
		fs.Usage = func() { usage(fs) }
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (see %s -h)", fs.Arg(0), name)
	}
	if *file == "" {
		for _, kv := range environ {
			if v, ok := strings.CutPrefix(kv, "PIER_CONFIG="); ok {
				*file = v
			}
		}
	}
	if *file != "" {
		if err := l.loadFile(*file); err != nil {
			return nil, err
		}
	}
	if err := l.loadEnv(environ); err != nil {
		return nil, err
	}
	for _, apply := range pending {
		if err := apply(); err != nil {
			return nil, err
		}
	}
	if errs := l.cfg.validate(); len(errs) > 0 {
		var out []error
		for _, e := range errs {
			where := l.source[e.key]
			if where == "" {
				where = "default"
			}
			out = append(out, fmt.Errorf("%s: key %s: %s", where, e.key, e.msg))
		}
		return nil, errors.Join(out...)
	}
	return &options{cfg: l.cfg, file: *file, source: l.source}, nil
}

// masked returns the configuration as YAML with secrets hidden.
func masked(c Config) ([]byte, error) {
	for _, f := range fields(&c) {
		if f.v.String() == "" {
			continue
		}
		if f.v.Kind() == reflect.Slice {
			if f.secret != "" { // a new slice: c shares the caller's arrays
				hidden := make([]string, f.v.Len())
				for i := range hidden {
					hidden[i] = "********"
				}
				f.v.Set(reflect.ValueOf(hidden))
			}
			continue
		}
		switch f.secret {
		case "true":
			f.v.SetString("********")
		case "url":
			f.v.SetString(maskURL(f.v.String()))
		}
	}
	return yaml.Marshal(c)
}

// MarshalYAML writes durations as Go durations.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// maskURL hides the password of a URL.
func maskURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "********"
	}
	return u.Redacted()
}
