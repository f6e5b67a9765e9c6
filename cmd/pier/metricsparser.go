package main

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pierhq/pier/engineio"
	"github.com/pierhq/pier/socketio"
)

// packetTypes are the Socket.IO packet types, the values of the type label.
const packetTypes = 7

// packetCounters count Socket.IO packets and their bytes: in, as decoded
// from clients; out, as encoded by the server (once per emit or
// broadcast, however many clients it reaches).
type packetCounters struct {
	in, out           [packetTypes]prometheus.Counter
	bytesIn, bytesOut prometheus.Counter
}

func newPacketCounters(reg *prometheus.Registry) *packetCounters {
	packets := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pier_packets_total",
		Help: "Socket.IO packets by direction (in: decoded from clients; out: encoded, once per emit or broadcast) and type.",
	}, []string{"direction", "type"})
	bytes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pier_packet_bytes_total",
		Help: "Bytes of the Socket.IO packets counted by pier_packets_total, attachments included.",
	}, []string{"direction"})
	reg.MustRegister(packets, bytes)
	c := &packetCounters{bytesIn: bytes.WithLabelValues("in"), bytesOut: bytes.WithLabelValues("out")}
	for t := range packetTypes {
		name := strings.ToLower(socketio.PacketType(t).String())
		c.in[t] = packets.WithLabelValues("in", name)
		c.out[t] = packets.WithLabelValues("out", name)
	}
	return c
}

// countingParser wraps a Parser to count what goes through it.
type countingParser struct {
	p socketio.Parser
	c *packetCounters
}

func (cp countingParser) NewDecoder(l socketio.Limits) socketio.PacketDecoder {
	return countingDecoder{cp.p.NewDecoder(l), cp.c}
}

func (cp countingParser) Encode(dst []engineio.Message, p *socketio.Packet) []engineio.Message {
	n := len(dst)
	dst = cp.p.Encode(dst, p)
	if int(p.Type) < packetTypes {
		cp.c.out[p.Type].Inc()
	}
	size := 0
	for _, m := range dst[n:] {
		size += len(m.Data)
	}
	cp.c.bytesOut.Add(float64(size))
	return dst
}

type countingDecoder struct {
	d socketio.PacketDecoder
	c *packetCounters
}

func (cd countingDecoder) Decode(m engineio.Message) (*socketio.Packet, error) {
	cd.c.bytesIn.Add(float64(len(m.Data)))
	p, err := cd.d.Decode(m)
	if p != nil && int(p.Type) < packetTypes {
		cd.c.in[p.Type].Inc()
	}
	return p, err
}
