package redisadapter

import (
	"log/slog"
	"sync"
	"time"
)

// dropLogEvery is the shortest interval between two warnings of one
// reason: the first drop of a reason is logged at once, the next ones at
// most once per interval with the number left unlogged meanwhile.
const dropLogEvery = 10 * time.Second

// dropLog logs dropped cluster messages and failed publications as
// warnings, rate-limited per reason, so that a flood of garbage or an
// outage costs a few log lines.
//
// Concurrency: safe for concurrent use; mu is a leaf lock (nothing is
// logged while it is held).
type dropLog struct {
	log *slog.Logger

	mu      sync.Mutex
	reasons map[string]*dropState
}

type dropState struct {
	last       time.Time
	suppressed int
}

func newDropLog(l *slog.Logger) *dropLog {
	return &dropLog{log: l, reasons: make(map[string]*dropState)}
}

// warn logs msg with the channel, the reason and attrs, unless reason was
// logged less than dropLogEvery ago.
func (d *dropLog) warn(msg, channel, reason string, attrs ...any) {
	now := time.Now()
	d.mu.Lock()
	s := d.reasons[reason]
	if s == nil {
		s = &dropState{}
		d.reasons[reason] = s
	} else if now.Sub(s.last) < dropLogEvery {
		s.suppressed++
		d.mu.Unlock()
		return
	}
	s.last = now
	suppressed := s.suppressed
	s.suppressed = 0
	d.mu.Unlock()
	args := append([]any{"channel", channel, "reason", reason}, attrs...)
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	d.log.Warn(msg, args...)
}
