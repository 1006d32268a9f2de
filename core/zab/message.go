package zab

import (
	"fmt"
	"strings"
)

// MessageType is a quorum packet type. Numbers 1-19 are ZooKeeper's quorum
// packet numbers so operators recognise them; the wire format itself is
// zoogate's own. Wire constants are append-only: never renumber or reuse.
type MessageType uint8

const (
	MsgRequest           MessageType = 1  // learner -> leader: forwarded request (FlagSync: a sync())
	MsgProposal          MessageType = 2  // leader -> follower: a transaction to log (also the sync stream)
	MsgAck               MessageType = 3  // follower -> leader: everything up to Zxid is durable (FlagNewLeader: acks NEWLEADER)
	MsgCommit            MessageType = 4  // leader -> learner: everything up to Zxid is committed
	MsgPing              MessageType = 5  // both ways; Data is an opaque piggyback (session touches)
	MsgRevalidate        MessageType = 6  // reserved (session revalidation is the server's)
	MsgSync              MessageType = 7  // leader -> learner: answer to a sync request, Data is its token
	MsgInform            MessageType = 8  // leader -> observer: a committed transaction (Zxid, Data)
	MsgCommitAndActivate MessageType = 9  // reserved (reconfiguration)
	MsgNewLeader         MessageType = 10 // leader -> learner: end of the sync stream, Epoch and last Zxid
	MsgFollowerInfo      MessageType = 11 // follower -> leader: Epoch = acceptedEpoch, Zxid = last logged
	MsgUpToDate          MessageType = 12 // leader -> learner: the epoch is established, start serving
	MsgDiff              MessageType = 13 // sync header: entries after Zxid follow
	MsgTrunc             MessageType = 14 // sync header: truncate the log after Zxid, entries after it follow
	MsgSnap              MessageType = 15 // sync header: Data is a snapshot at Zxid, entries after it follow
	MsgObserverInfo      MessageType = 16 // observer -> leader, like FOLLOWERINFO
	MsgLeaderInfo        MessageType = 17 // leader -> learner: Epoch = the new epoch
	MsgAckEpoch          MessageType = 18 // learner -> leader: Epoch = currentEpoch, Zxid = last logged
	MsgInformAndActivate MessageType = 19 // reserved (reconfiguration)
	MsgVote              MessageType = 32 // fast leader election notification (ZooKeeper sends these on its election port)
)

var typeNames = map[MessageType]string{
	MsgRequest: "REQUEST", MsgProposal: "PROPOSAL", MsgAck: "ACK", MsgCommit: "COMMIT",
	MsgPing: "PING", MsgRevalidate: "REVALIDATE", MsgSync: "SYNC", MsgInform: "INFORM",
	MsgCommitAndActivate: "COMMITANDACTIVATE", MsgNewLeader: "NEWLEADER",
	MsgFollowerInfo: "FOLLOWERINFO", MsgUpToDate: "UPTODATE", MsgDiff: "DIFF",
	MsgTrunc: "TRUNC", MsgSnap: "SNAP", MsgObserverInfo: "OBSERVERINFO",
	MsgLeaderInfo: "LEADERINFO", MsgAckEpoch: "ACKEPOCH",
	MsgInformAndActivate: "INFORMANDACTIVATE", MsgVote: "VOTE",
}

func (t MessageType) String() string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("TYPE(%d)", uint8(t))
}

// ParseMessageType is the inverse of MessageType.String.
func ParseMessageType(s string) (MessageType, bool) {
	for t, name := range typeNames {
		if strings.EqualFold(name, s) {
			return t, true
		}
	}
	return 0, false
}

// known reports whether t is a type this version defines.
func (t MessageType) known() bool { _, ok := typeNames[t]; return ok }

// Flags qualify a message. Append-only.
type Flags uint8

const (
	// FlagSync marks a REQUEST as a client sync(); Data is the caller's token.
	FlagSync Flags = 1 << 0
	// FlagNewLeader marks an ACK as the acknowledgement of NEWLEADER.
	FlagNewLeader Flags = 1 << 1
	// FlagEpochAlreadyAccepted marks an ACKEPOCH from a learner that had
	// already accepted this epoch (ZooKeeper sends epoch -1): it does not count
	// toward the quorum that establishes the epoch.
	FlagEpochAlreadyAccepted Flags = 1 << 2
	// FlagRelayed marks a sync REQUEST that a learner forwards for one of
	// its own observers, and the SYNC that answers it: Data is the
	// observer's id and the relay's number for the observer's stream (8
	// bytes each, big-endian), the observer's FlagRelayed (1 byte) and its
	// token. The answer is passed back down the same way, and only on the
	// stream that asked.
	FlagRelayed Flags = 1 << 3

	knownFlags = FlagSync | FlagNewLeader | FlagEpochAlreadyAccepted | FlagRelayed
)

// ServerState is a server's role. Wire values: append-only.
type ServerState uint8

const (
	Looking   ServerState = 1
	Following ServerState = 2
	Leading   ServerState = 3
	Observing ServerState = 4
)

func (s ServerState) String() string {
	switch s {
	case Looking:
		return "LOOKING"
	case Following:
		return "FOLLOWING"
	case Leading:
		return "LEADING"
	case Observing:
		return "OBSERVING"
	}
	return fmt.Sprintf("STATE(%d)", uint8(s))
}

// Message is one packet between two servers. Which fields a type uses is
// listed next to the type constants; unused fields are zero.
type Message struct {
	Type  MessageType
	From  uint64
	To    uint64
	Zxid  int64
	Epoch int64 // acceptedEpoch, currentEpoch, new epoch, or a vote's peerEpoch
	Flags Flags

	// Vote fields (MsgVote): Leader is the proposed leader (0: no vote, an
	// observer's), Zxid and Epoch its last zxid and peerEpoch, ElectionEpoch
	// the sender's logical clock and State the sender's state.
	Leader        uint64
	ElectionEpoch int64
	State         ServerState

	// Data is a transaction (PROPOSAL, INFORM), a snapshot (SNAP), a
	// piggyback (PING), a forwarded request (REQUEST) or a sync token.
	Data []byte
	// Blob, on a SNAP only, holds the snapshot instead of Data. It is not
	// part of Marshal's encoding: a transport streams it after the message
	// (core/peer) and hands the receiver a Blob of its own.
	Blob Blob
}

func (m Message) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d->%d %s", m.From, m.To, m.Type)
	switch m.Type {
	case MsgVote:
		fmt.Fprintf(&b, " leader=%d zxid=%s peerEpoch=%d clock=%d state=%s",
			m.Leader, FormatZxid(m.Zxid), m.Epoch, m.ElectionEpoch, m.State)
		return b.String()
	case MsgFollowerInfo, MsgObserverInfo, MsgLeaderInfo, MsgNewLeader, MsgAckEpoch:
		fmt.Fprintf(&b, " epoch=%d", m.Epoch)
	}
	if m.Zxid != 0 || m.Type == MsgDiff || m.Type == MsgTrunc || m.Type == MsgSnap {
		fmt.Fprintf(&b, " zxid=%s", FormatZxid(m.Zxid))
	}
	if m.Flags != 0 {
		fmt.Fprintf(&b, " flags=%#x", uint8(m.Flags))
	}
	if len(m.Data) > 0 {
		fmt.Fprintf(&b, " data=%dB", len(m.Data))
	}
	if m.Blob != nil {
		fmt.Fprintf(&b, " blob=%dB", m.Blob.Size())
	}
	return b.String()
}
