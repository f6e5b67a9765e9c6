package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Components are the values of the component attribute of Pier's logs.
var components = []string{"engine", "socket", "sails", "redis", "http", "admin"}

// logLevels is a parsed logLevel: a default and levels per component,
// the way DEBUG=engine,socket.io* picks what Node logs.
type logLevels struct {
	def  slog.Level
	comp map[string]slog.Level
}

// parseLogLevels reads "info" or "warn,engine=debug,redis=error".
func parseLogLevels(s string) (logLevels, error) {
	ll := logLevels{def: slog.LevelInfo, comp: map[string]slog.Level{}}
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		name, level, ok := strings.Cut(part, "=")
		if !ok {
			if i > 0 {
				return ll, fmt.Errorf("%q: want component=level after the first item", part)
			}
			level, name = name, ""
		}
		var l slog.Level
		if err := l.UnmarshalText([]byte(level)); err != nil {
			return ll, fmt.Errorf("unknown level %q (debug, info, warn, error)", level)
		}
		if name == "" {
			ll.def = l
			continue
		}
		known := false
		for _, c := range components {
			known = known || c == name
		}
		if !known {
			return ll, fmt.Errorf("unknown component %q (%s)", name, strings.Join(components, ", "))
		}
		ll.comp[name] = l
	}
	return ll, nil
}

// minLevel is the lowest level any component logs at.
func (ll logLevels) minLevel() slog.Level {
	m := ll.def
	for _, l := range ll.comp {
		m = min(m, l)
	}
	return m
}

// newLogger returns the root logger (format "text" or "json"); give each
// component its own with component(log, "engine").
func newRootLogger(w io.Writer, format, levels string) (*slog.Logger, error) {
	ll, err := parseLogLevels(levels)
	if err != nil {
		return nil, err
	}
	ho := &slog.HandlerOptions{Level: ll.minLevel()}
	var h slog.Handler = slog.NewTextHandler(w, ho)
	if format == "json" {
		h = slog.NewJSONHandler(w, ho)
	}
	return slog.New(&levelHandler{h: h, levels: ll, level: ll.def}), nil
}

// component returns log with the component attribute, logging at that
// component's level.
func component(log *slog.Logger, name string) *slog.Logger {
	return log.With("component", name)
}

// levelHandler filters records by the level of the component its logger
// was made for (the component attribute given With).
type levelHandler struct {
	h      slog.Handler
	levels logLevels
	level  slog.Level
}

func (h *levelHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *levelHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.h.Handle(ctx, r)
}

func (h *levelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	for _, a := range attrs {
		if a.Key == "component" {
			if l, ok := h.levels.comp[a.Value.String()]; ok {
				c.level = l
			}
		}
	}
	c.h = h.h.WithAttrs(attrs)
	return &c
}

func (h *levelHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.h = h.h.WithGroup(name)
	return &c
}

// redisLogger routes go-redis' own logs through slog.
type redisLogger struct{ log *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.log.WarnContext(ctx, strings.TrimSpace(fmt.Sprintf(format, v...)))
}
