package gossip

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// State is a node's serving state as it gossips it.
type State uint8

// Serving states (wire values: append only).
const (
	StateDown     State = 0 // not serving anyone (starting, or no quorum and no read-only mode)
	StateServing  State = 1 // serving reads and writes
	StateReadOnly State = 2 // serving read-only clients only (no quorum or no upstream)
	StateSyncing  State = 3 // following an upstream, not yet caught up
	StateLeaving  State = 4 // shutting down (the pools then report it left)
)

var stateNames = [...]string{"down", "serving", "read-only", "syncing", "leaving"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Meta is what a node gossips about itself (memberlist's node metadata).
type Meta struct {
	ID     uint64
	Site   string
	Role   string // "voter", "observer" or "relay"
	Client string // host:port for ZooKeeper clients
	WAN    string // host:port other sites dial over QUIC; "" = none
	State  State
	// Leader is the voter the node follows (its own id on the leader), 0
	// when it knows none; Epoch that leader's epoch. Upstream is the
	// server it streams from (a relay, a follower or the leader).
	Leader, Epoch, Upstream uint64
	// Zxid is the last transaction it applied; LagTxns and LagMs how far
	// behind its upstream's commits it is.
	Zxid           int64
	LagTxns, LagMs int64
	// Boot is drawn at random when the node starts: a node that restarts
	// gossips another, so others can tell it from its earlier run.
	Boot uint64
}

// MaxMetaSize is memberlist's limit for node metadata (MetaMaxSize):
// UpdateNode panics beyond it, so Encode refuses.
const MaxMetaSize = 512

// metaVersion is the first byte of encoded metadata.
const metaVersion = 1

// ErrBadMeta is returned (wrapped) for metadata that does not decode.
var ErrBadMeta = errors.New("gossip: bad node metadata")

// Encode returns the wire form: a version byte, then uvarints and
// length-prefixed strings in field order.
func (m Meta) Encode() ([]byte, error) {
	b := make([]byte, 0, 96)
	b = append(b, metaVersion)
	b = binary.AppendUvarint(b, m.ID)
	for _, s := range []string{m.Site, m.Role, m.Client, m.WAN} {
		if len(s) > 255 {
			return nil, fmt.Errorf("%w: string of %d bytes (max 255)", ErrBadMeta, len(s))
		}
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = append(b, byte(m.State))
	b = binary.AppendUvarint(b, m.Leader)
	b = binary.AppendUvarint(b, m.Epoch)
	b = binary.AppendUvarint(b, m.Upstream)
	b = binary.AppendVarint(b, m.Zxid)
	b = binary.AppendVarint(b, m.LagTxns)
	b = binary.AppendVarint(b, m.LagMs)
	b = binary.AppendUvarint(b, m.Boot)
	if len(b) > MaxMetaSize {
		return nil, fmt.Errorf("%w: %d bytes (memberlist allows %d)", ErrBadMeta, len(b), MaxMetaSize)
	}
	return b, nil
}

// DecodeMeta reads Encode's form; errors name the byte offset. Bytes
// after the known fields are ignored (a newer node may add some).
func DecodeMeta(b []byte) (Meta, error) {
	var m Meta
	r := metaReader{b: b}
	if v := r.byte("version"); r.err == nil && v != metaVersion {
		return m, fmt.Errorf("%w: version %d at offset 0, want %d", ErrBadMeta, v, metaVersion)
	}
	m.ID = r.uvarint("id")
	m.Site = r.str("site")
	m.Role = r.str("role")
	m.Client = r.str("client")
	m.WAN = r.str("wan")
	m.State = State(r.byte("state"))
	m.Leader = r.uvarint("leader")
	m.Epoch = r.uvarint("epoch")
	m.Upstream = r.uvarint("upstream")
	m.Zxid = r.varint("zxid")
	m.LagTxns = r.varint("lag_txns")
	m.LagMs = r.varint("lag_ms")
	if r.err == nil && r.off < len(r.b) { // absent from the first encoders
		m.Boot = r.uvarint("boot")
	}
	if r.err != nil {
		return Meta{}, r.err
	}
	return m, nil
}

type metaReader struct {
	b   []byte
	off int
	err error
}

func (r *metaReader) fail(field string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s truncated or malformed at offset %d of %d", ErrBadMeta, field, r.off, len(r.b))
	}
}

func (r *metaReader) byte(field string) byte {
	if r.err != nil || r.off >= len(r.b) {
		r.fail(field)
		return 0
	}
	v := r.b[r.off]
	r.off++
	return v
}

func (r *metaReader) uvarint(field string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail(field)
		return 0
	}
	r.off += n
	return v
}

func (r *metaReader) varint(field string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		r.fail(field)
		return 0
	}
	r.off += n
	return v
}

func (r *metaReader) str(field string) string {
	start := r.off
	n := r.uvarint(field)
	if r.err != nil {
		return ""
	}
	if n > 255 || uint64(len(r.b)-r.off) < n {
		r.off = start // report where the string begins
		r.fail(field)
		return ""
	}
	s := string(r.b[r.off : r.off+int(n)])
	r.off += int(n)
	return s
}

// ErrKey is returned (wrapped) for a gossip key file that does not hold a
// key.
var ErrKey = errors.New("gossip: bad key")

// ParseKey decodes a gossip_key_file: 64 hex digits (32 bytes, AES-256),
// surrounding whitespace ignored. `zoogate tls init` writes one;
// `openssl rand -hex 32` makes one too.
func ParseKey(data []byte) ([]byte, error) {
	text := strings.TrimSpace(string(data))
	if len(text) != 64 {
		return nil, fmt.Errorf("%w: %d characters, want 64 hex digits (32 bytes)", ErrKey, len(text))
	}
	key, err := hex.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("%w: not hex digits: %v", ErrKey, err)
	}
	return key, nil
}

// FormatKey is the content of a gossip key file.
func FormatKey(key []byte) []byte { return []byte(hex.EncodeToString(key) + "\n") }
