package proto

import "github.com/zoogate/zoogate/core/jute"

// Stat is a znode's metadata as clients see it (68 bytes on the wire).
type Stat struct {
	Czxid          int64
	Mzxid          int64
	Ctime          int64
	Mtime          int64
	Version        int32
	Cversion       int32
	Aversion       int32
	EphemeralOwner int64
	DataLength     int32
	NumChildren    int32
	Pzxid          int64
}

// Encode appends the stat.
func (s *Stat) Encode(e *jute.Encoder) {
	e.Long(s.Czxid)
	e.Long(s.Mzxid)
	e.Long(s.Ctime)
	e.Long(s.Mtime)
	e.Int(s.Version)
	e.Int(s.Cversion)
	e.Int(s.Aversion)
	e.Long(s.EphemeralOwner)
	e.Int(s.DataLength)
	e.Int(s.NumChildren)
	e.Long(s.Pzxid)
}

// DecodeStat reads a stat from d.
func DecodeStat(d *jute.Decoder) Stat {
	return Stat{
		Czxid: d.Long("Stat.czxid"), Mzxid: d.Long("Stat.mzxid"),
		Ctime: d.Long("Stat.ctime"), Mtime: d.Long("Stat.mtime"),
		Version: d.Int("Stat.version"), Cversion: d.Int("Stat.cversion"),
		Aversion: d.Int("Stat.aversion"), EphemeralOwner: d.Long("Stat.ephemeralOwner"),
		DataLength: d.Int("Stat.dataLength"), NumChildren: d.Int("Stat.numChildren"),
		Pzxid: d.Long("Stat.pzxid"),
	}
}

// ID is an authentication identity: scheme and id.
type ID struct {
	Scheme string
	ID     string
}

// ACL is one access control entry.
type ACL struct {
	Perms int32
	ID    ID
}

// Well-known ACLs.
var (
	AnyoneID      = ID{Scheme: "world", ID: "anyone"}
	OpenACLUnsafe = []ACL{{Perms: PermAll, ID: AnyoneID}}
	ReadACLUnsafe = []ACL{{Perms: PermRead, ID: AnyoneID}}
	CreatorAllACL = []ACL{{Perms: PermAll, ID: ID{Scheme: "auth", ID: ""}}}
)

// EncodeACLs appends a vector of ACLs (never null).
func EncodeACLs(e *jute.Encoder, acls []ACL) {
	e.VectorLen(len(acls))
	for _, a := range acls {
		e.Int(a.Perms)
		e.String(a.ID.Scheme)
		e.String(a.ID.ID)
	}
}

// DecodeACLs reads a vector of ACLs; null decodes as nil.
func DecodeACLs(d *jute.Decoder) []ACL {
	n := d.VectorLen("acl", 12)
	if n == 0 {
		return nil
	}
	out := make([]ACL, 0, n)
	for i := 0; i < n && d.Err() == nil; i++ {
		out = append(out, ACL{Perms: d.Int("ACL.perms"), ID: ID{Scheme: d.String("Id.scheme"), ID: d.String("Id.id")}})
	}
	return out
}

// WatcherEvent is the body of a notification (xid -1).
type WatcherEvent struct {
	Type  int32
	State int32
	Path  string
}

// Encode appends the event.
func (w *WatcherEvent) Encode(e *jute.Encoder) { e.Int(w.Type); e.Int(w.State); e.String(w.Path) }

// CreateRequest covers create, create2, createContainer and createTTL (TTL is
// set only for createTTL).
type CreateRequest struct {
	Path  string
	Data  []byte
	ACL   []ACL
	Flags int32
	TTL   int64
}

// DecodeCreate reads a CreateRequest, or a CreateTTLRequest when ttl is set.
func DecodeCreate(d *jute.Decoder, ttl bool) *CreateRequest {
	r := &CreateRequest{Path: d.String("CreateRequest.path"), Data: d.Buffer("CreateRequest.data")}
	r.ACL = DecodeACLs(d)
	r.Flags = d.Int("CreateRequest.flags")
	r.TTL = -1
	if ttl {
		r.TTL = d.Long("CreateTTLRequest.ttl")
	}
	return r
}

// Encode appends the request (with the ttl field when ttl is set).
func (r *CreateRequest) Encode(e *jute.Encoder, ttl bool) {
	e.String(r.Path)
	e.Buffer(r.Data)
	EncodeACLs(e, r.ACL)
	e.Int(r.Flags)
	if ttl {
		e.Long(r.TTL)
	}
}

// PathVersion is the shape of DeleteRequest and CheckVersionRequest.
type PathVersion struct {
	Path    string
	Version int32
}

// DecodePathVersion reads {ustring path, int version}.
func DecodePathVersion(d *jute.Decoder) *PathVersion {
	return &PathVersion{Path: d.String("path"), Version: d.Int("version")}
}

// Encode appends the record.
func (r *PathVersion) Encode(e *jute.Encoder) { e.String(r.Path); e.Int(r.Version) }

// PathWatch is the shape of exists, getData, getChildren and getChildren2.
type PathWatch struct {
	Path  string
	Watch bool
}

// DecodePathWatch reads {ustring path, boolean watch}.
func DecodePathWatch(d *jute.Decoder) *PathWatch {
	return &PathWatch{Path: d.String("path"), Watch: d.Bool("watch")}
}

// Encode appends the record.
func (r *PathWatch) Encode(e *jute.Encoder) { e.String(r.Path); e.Bool(r.Watch) }

// SetDataRequest is setData's request.
type SetDataRequest struct {
	Path    string
	Data    []byte
	Version int32
}

// DecodeSetData reads a SetDataRequest.
func DecodeSetData(d *jute.Decoder) *SetDataRequest {
	return &SetDataRequest{Path: d.String("SetDataRequest.path"), Data: d.Buffer("SetDataRequest.data"), Version: d.Int("SetDataRequest.version")}
}

// Encode appends the request.
func (r *SetDataRequest) Encode(e *jute.Encoder) {
	e.String(r.Path)
	e.Buffer(r.Data)
	e.Int(r.Version)
}

// SetACLRequest is setACL's request; Version is checked against aversion.
type SetACLRequest struct {
	Path    string
	ACL     []ACL
	Version int32
}

// DecodeSetACL reads a SetACLRequest.
func DecodeSetACL(d *jute.Decoder) *SetACLRequest {
	r := &SetACLRequest{Path: d.String("SetACLRequest.path")}
	r.ACL = DecodeACLs(d)
	r.Version = d.Int("SetACLRequest.version")
	return r
}

// Encode appends the request.
func (r *SetACLRequest) Encode(e *jute.Encoder) {
	e.String(r.Path)
	EncodeACLs(e, r.ACL)
	e.Int(r.Version)
}

// AuthPacket is the auth request.
type AuthPacket struct {
	Type   int32
	Scheme string
	Auth   []byte
}

// DecodeAuth reads an AuthPacket.
func DecodeAuth(d *jute.Decoder) *AuthPacket {
	return &AuthPacket{Type: d.Int("AuthPacket.type"), Scheme: d.String("AuthPacket.scheme"), Auth: d.Buffer("AuthPacket.auth")}
}

// SetWatches covers setWatches (101) and setWatches2 (105, with the two
// persistent lists).
type SetWatches struct {
	RelativeZxid        int64
	DataWatches         []string
	ExistWatches        []string
	ChildWatches        []string
	PersistentWatches   []string
	PersistentRecursive []string
}

// DecodeSetWatches reads SetWatches or SetWatches2.
func DecodeSetWatches(d *jute.Decoder, v2 bool) *SetWatches {
	r := &SetWatches{
		RelativeZxid: d.Long("SetWatches.relativeZxid"),
		DataWatches:  d.Strings("SetWatches.dataWatches"),
		ExistWatches: d.Strings("SetWatches.existWatches"),
		ChildWatches: d.Strings("SetWatches.childWatches"),
	}
	if v2 {
		r.PersistentWatches = d.Strings("SetWatches2.persistentWatches")
		r.PersistentRecursive = d.Strings("SetWatches2.persistentRecursiveWatches")
	}
	return r
}

// PathType is the shape of addWatch, checkWatches and removeWatches.
type PathType struct {
	Path string
	Type int32
}

// DecodePathType reads {ustring path, int type/mode}.
func DecodePathType(d *jute.Decoder) *PathType {
	return &PathType{Path: d.String("path"), Type: d.Int("type")}
}

// ReconfigRequest is the reconfig request.
type ReconfigRequest struct {
	JoiningServers string
	LeavingServers string
	NewMembers     string
	CurConfigID    int64
}

// DecodeReconfig reads a ReconfigRequest.
func DecodeReconfig(d *jute.Decoder) *ReconfigRequest {
	return &ReconfigRequest{
		JoiningServers: d.String("ReconfigRequest.joiningServers"),
		LeavingServers: d.String("ReconfigRequest.leavingServers"),
		NewMembers:     d.String("ReconfigRequest.newMembers"),
		CurConfigID:    d.Long("ReconfigRequest.curConfigId"),
	}
}
