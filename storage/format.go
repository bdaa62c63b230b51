package storage

// # On-disk format (layout 2; layout 1 differs only in the tree)
//
// Everything lives in one Badger v4 database opened with encryption at rest.
// Keys are binary and big-endian so that Badger's byte order is the order the
// store iterates in. Every per-organization key starts with a one-byte table
// tag, then the organization id (which matches ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$
// and so never contains 0x00), then 0x00. A prefix scan over tag||org||0x00
// therefore never sees another organization: tenant isolation is a property of
// the key layout, not of a filter.
//
//	tag  key                                              value
//	0x01 0x01 || name                                     store metadata ("format" → uint32 layout version,
//	                                                      1 or 2: the tree's layout, below, plus 0x100
//	                                                      once checkpoints may carry their time)
//	0x10 0x10 || org || 0x00                              head: seq u64 || leafHash [32] || lastRecordedAt i64 (unix ns)
//	0x11 0x11 || org || 0x00 || seq u64                   record (see below)
//	0x12 0x12 || org || 0x00 || id (UTF-8)                seq u64 || recordedAt i64 || contentMAC [32]
//	0x13 0x13 || org || 0x00 || ts u64 || seq u64         summary (see below): the timeline index
//	0x14 0x14 || org || 0x00 || field || value || 0x00 || ts u64 || seq u64
//	                                                      summary: secondary index, one entry per field value
//	0x15 0x15 || org || 0x00 || keyID u32                 wrapped data key: 0x01 || nonce [12] || AES-GCM(KEK, key), or, after
//	                                                      a rotation, 0x02 || KEK generation u32 || nonce [12] || AES-GCM(KEK, key)
//	                                                      (keys.go)
//	0x16 0x16 || org || 0x00 || hour u64 || field || value
//	                                                      count u64: events per UTC hour per field value
//	0x16 0x16 || org || 0x00 || hour u64 || '*'           pack: the hour's counts of the bounded fields
//	0x17 0x17 || org || 0x00 || hour u64 || field || value
//	                                                      count u64: of those, pruned by retention (retention.go)
//	0x18 0x18 || org || 0x00 || block u64                 text sketch of seqs block*4096+1 to (block+1)*4096, derived:
//	                                                      0x01 || log2(m) u8 || m bits (sketch.go)
//	0x01 0x01 || "verifier-key"                           checkpoint verifier key, note format (text)
//	0x01 0x01 || "installation-id"                        installation id, the middle of every origin (text)
//	0x20 0x20 || org || 0x00 || level u8 || index u64     tree tile: hash [32] × 16, or node: hash [32] (see Integrity below)
//	0x21 0x21 || org || 0x00                              compact range: size u64 || hash [32] × popcount(size)
//	0x22 0x22 || org || 0x00 || n u64                     checkpoint n (from 1): 0x01 || time i64 (unix ns) || signed note
//	0x23 0x23 || org || 0x00                              active integrity alert: JSON IntegrityAlert
//	                                                      (empty once acknowledged: see cleared, settings.go)
//	0x24–0x2f                                             reserved for the integrity layer
//
// ts is the event timestamp in Unix nanoseconds with the sign bit flipped
// (uint64(ns) ^ 1<<63), so that byte order is time order, also before 1970.
// hour is ts truncated to the UTC hour, encoded the same way. In the index
// (0x14) field is one byte: 'c' category, 'u' userId, 'i' resourceId; only
// these selective fields are indexed, because each entry is a write per
// event. In the counters (0x16) field is 't' (total, empty value),
// 'c' category, 'p' provider, 's' status, 'r' riskLevel or 'u' userId.
// The fields with few values (t, c, p, s, r) of one hour are kept in a
// single pack entry (field '*'), so that an append rewrites one counter for
// them instead of five: a sequence, sorted by field and value, of
//
//	field u8 || uvarint len || value || uvarint count
//
// Stores written before packs keep separate entries for those fields too;
// an hour's count is the sum of its pack and its separate entries.
// Indexed values never contain 0x00 (the
// validator rejects NUL in strings), so 0x00 ends the value unambiguously
// and a resourceId prefix is a key prefix.
//
// contentMAC is HMAC-SHA256 under a key derived from the master key over the
// canonical (JCS) form of the event as appended, states included. It lets a
// retried append be recognised as identical without keeping anything derived
// from the plaintext states that could be guessed offline.
//
// # Integrity
//
// Record seq of an organization is leaf seq−1 of its RFC 6962 Merkle tree
// (storage/tlog's doc.go is the specification). The tree's perfect nodes
// are stored under 0x20 as they become complete, in the same Badger
// transaction as the records they cover, together with the organization's
// compact range (0x21): the perfect subtrees covering [0, size), largest
// first, from which the tree resumes on open without reading any leaf. How
// they are stored is fixed when the database is created, by its layout
// version ("format" metadata):
//
//   - layout 2 (new databases; tree stride 4): tiles of height 4 (tiles.go). The value
//     under node key (level T, index j), T = 4, 8, ..., is the 16 hashes
//     of the nodes (T−4, 16j) … (T−4, 16j+15), 512 bytes, whose root is
//     node (T, j); tile (4, j) is the leaf hashes of seqs 16j+1 … 16j+16.
//     An append stores about one tile per 16 events instead of two nodes
//     per event. Nodes of the incomplete right edge are computed from the
//     records' leaf hashes and the tiles below.
//   - layout 1 (databases written before tiles; stride 1): every perfect
//     node on its own (32 bytes), leaves included. A program that reads
//     only layout 1 refuses a layout-2 database.
//
// Nodes and tiles are never rewritten. Proofs and roots for any size read
// O(log n) values. Checkpoints (0x22) are C2SP signed notes that sign the time
// they were made; a heartbeat signs the same tree again at a later time. The
// newest checkpoint of each
// organization is also mirrored into the keystore (KeyAnchor).
//
// # Record value
//
// A record retention pruned holds a tombstone instead, record value
// version 0x02 (tombstone.go).
//
//	0x01 (record value version)
//	uvarint len || public record (JCS bytes, verbatim; the leaf preimage)
//	leafHash [32] = SHA-256(0x00 || public record)
//	uvarint len || sealed beforeState (empty when the event has none)
//	uvarint len || sealed afterState  (empty when the event has none)
//
// A sealed state is 0x01 || keyID u32 || nonce [12] || AES-256-GCM ciphertext
// of salt [32] || JCS(state), with associated data
//
//	"axiom-audit/state-aad/v1" || uvarint len || org || seq u64 ||
//	uvarint len || id || side ('b' or 'a') || commitment [32]
//
// and commitment = SHA-256("axiom-audit/state/v1" || salt || JCS(state)).
//
// # Public record
//
// The public record is an RFC 8785 (JCS) JSON object with these members, in
// this (JCS) order; members marked ? are absent when empty:
//
//	actionType, afterStateCommitment?, beforeStateCommitment?, category,
//	formatVersion (integer, 1), id, metadata?, organizationId, prevHash,
//	provider, recordedAt, resourceIds, riskLevel, seq (integer), status,
//	timestamp, userId
//
// Hashes and commitments are lowercase hex. timestamp and recordedAt are RFC
// 3339 in UTC with exactly nine fractional digits ("2026-01-02T03:04:05.000000000Z"),
// so that their text order is their time order. prevHash of an
// organization's first record (seq 1) is 64 zeros; afterwards it is the leaf
// hash of the record with seq-1. There are no floating-point numbers in the
// public record: the validator rejects non-integer numbers in metadata.
//
// # Summary
//
// Index entries carry a summary so that filters and facets over the
// enumerated fields need not fetch records:
//
//	0x01 || provider u8 || status u8 || riskLevel u8 ||
//	uvarint len || category || uvarint len || actionType || uvarint len || userId
//
// provider/status/riskLevel are 1 + their position in [Providers],
// [Statuses], [RiskLevels] (0: some other value, which the validator
// prevents).

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// FormatVersion is the version of the public record (its formatVersion
// member). The version of the database's layout is its "format" metadata
// (layoutNodes, layoutTiles).
const FormatVersion = 1

// Table tags.
const (
	tagMeta      byte = 0x01
	tagHead      byte = 0x10
	tagRecord    byte = 0x11
	tagID        byte = 0x12
	tagTime      byte = 0x13
	tagIndex     byte = 0x14
	tagDataKey   byte = 0x15
	tagCounter   byte = 0x16
	tagTreeNode  byte = 0x20 // integrity.go
	tagCompact   byte = 0x21 // integrity.go
	tagCheckpt   byte = 0x22 // checkpoint.go
	tagAlert     byte = 0x23 // alert.go
	recordValueV byte = 0x01
	sealedV      byte = 0x01
	summaryV     byte = 0x01
)

// Indexed fields.
const (
	fieldCategory   byte = 'c'
	fieldActionType byte = 'a'
	fieldProvider   byte = 'p'
	fieldUserID     byte = 'u'
	fieldStatus     byte = 's'
	fieldRiskLevel  byte = 'r'
	fieldResourceID byte = 'i'
)

const tsLayout = "2006-01-02T15:04:05.000000000Z"

// keyOrg returns the organization of a key that is tag || org || 0x00,
// and false for any other key.
func keyOrg(k []byte) (string, bool) {
	if len(k) < 3 || k[len(k)-1] != 0 {
		return "", false
	}
	org := string(k[1 : len(k)-1])
	return org, validOrg(org)
}

func formatTime(t time.Time) string { return t.UTC().Format(tsLayout) }

func encTime(t time.Time) uint64 { return uint64(t.UnixNano()) ^ (1 << 63) }
func decTime(u uint64) time.Time { return time.Unix(0, int64(u^(1<<63))).UTC() }

// parseRecordTime parses a public record's time, which is in the store's
// fixed layout ("2006-01-02T15:04:05.000000000Z"), without time.Parse; any
// other form is not the one the store writes.
func parseRecordTime(s string) (time.Time, bool) {
	if len(s) == len(tsLayout) && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':' && s[19] == '.' && s[29] == 'Z' {
		num := func(i, j int) (int, bool) {
			n := 0
			for ; i < j; i++ {
				c := s[i]
				if c < '0' || c > '9' {
					return 0, false
				}
				n = n*10 + int(c-'0')
			}
			return n, true
		}
		y, ok1 := num(0, 4)
		mo, ok2 := num(5, 7)
		d, ok3 := num(8, 10)
		h, ok4 := num(11, 13)
		mi, ok5 := num(14, 16)
		sec, ok6 := num(17, 19)
		ns, ok7 := num(20, 29)
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && mo >= 1 && mo <= 12 && d >= 1 && h < 24 && mi < 60 && sec < 60 {
			t := time.Date(y, time.Month(mo), d, h, mi, sec, ns, time.UTC)
			if t.Day() == d { // not normalized from, say, February 30
				return t, true
			}
		}
	}
	// Any other form is not the canonical one the store writes.
	return time.Time{}, false
}

func orgPrefix(tag byte, org string) []byte {
	k := make([]byte, 0, 2+len(org)+24)
	k = append(k, tag)
	k = append(k, org...)
	return append(k, 0)
}

func headKey(org string) []byte { return orgPrefix(tagHead, org) }

func recordKey(org string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(orgPrefix(tagRecord, org), seq)
}

func idKey(org, id string) []byte { return append(orgPrefix(tagID, org), id...) }

func timeKey(org string, ts, seq uint64) []byte {
	k := binary.BigEndian.AppendUint64(orgPrefix(tagTime, org), ts)
	return binary.BigEndian.AppendUint64(k, seq)
}

// indexPrefix is the key prefix of one field value's index entries.
func indexPrefix(org string, field byte, value string) []byte {
	k := append(orgPrefix(tagIndex, org), field)
	k = append(k, value...)
	return append(k, 0)
}

func dataKeyKey(org string, id uint32) []byte {
	return binary.BigEndian.AppendUint32(orgPrefix(tagDataKey, org), id)
}

func counterKey(org string, hour uint64, field byte, value string) []byte {
	k := binary.BigEndian.AppendUint64(orgPrefix(tagCounter, org), hour)
	k = append(k, field)
	return append(k, value...)
}

// fieldPack is the field of an hour's pack of counters.
const fieldPack byte = '*'

// packKeyOf is a pack's map key for field and value.
func packKeyOf(field byte, value string) string { return string([]byte{field}) + value }

// encodePack encodes an hour's pack of counters (field||value → count).
func encodePack(m map[string]uint64) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b []byte
	for _, k := range keys {
		b = append(b, k[0])
		b = binary.AppendUvarint(b, uint64(len(k)-1))
		b = append(b, k[1:]...)
		b = binary.AppendUvarint(b, m[k])
	}
	return b
}

// decodePack calls add for each counter of a pack, in order.
func decodePack(b []byte, add func(field byte, value string, n uint64)) error {
	for len(b) > 0 {
		field := b[0]
		l, k := binary.Uvarint(b[1:])
		if k <= 0 || l > uint64(len(b)-1-k) {
			return fmt.Errorf("a counter pack's value length is out of range: %w", errCorrupt)
		}
		value := string(b[1+k : 1+k+int(l)])
		b = b[1+k+int(l):]
		n, k := binary.Uvarint(b)
		if k <= 0 {
			return fmt.Errorf("a counter pack's count does not decode: %w", errCorrupt)
		}
		b = b[k:]
		add(field, value, n)
	}
	return nil
}

// hourOf truncates an encoded timestamp to its UTC hour.
func hourOf(ts uint64) uint64 {
	t := decTime(ts)
	return encTime(t.Truncate(time.Hour))
}

// head is the per-organization head of the log.
type head struct {
	seq            uint64
	leaf           [32]byte
	lastRecordedAt int64
}

func (h head) encode() []byte {
	b := binary.BigEndian.AppendUint64(nil, h.seq)
	b = append(b, h.leaf[:]...)
	return binary.BigEndian.AppendUint64(b, uint64(h.lastRecordedAt))
}

func decodeHead(b []byte) (head, error) {
	if len(b) != 48 {
		return head{}, fmt.Errorf("head value has %d bytes, want 48: %w", len(b), ErrTampered)
	}
	var h head
	h.seq = binary.BigEndian.Uint64(b)
	copy(h.leaf[:], b[8:40])
	h.lastRecordedAt = int64(binary.BigEndian.Uint64(b[40:]))
	return h, nil
}

// idEntry is the value of an id index entry.
type idEntry struct {
	seq        uint64
	recordedAt int64
	mac        [32]byte
}

func (e idEntry) encode() []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 48), e.seq)
	b = binary.BigEndian.AppendUint64(b, uint64(e.recordedAt))
	return append(b, e.mac[:]...)
}

// idEntryLen is the length of an id index value.
const idEntryLen = 48

func decodeIDEntry(b []byte) (idEntry, error) {
	if len(b) != idEntryLen {
		return idEntry{}, fmt.Errorf("id index value has %d bytes, want 48: %w", len(b), ErrTampered)
	}
	var e idEntry
	e.seq = binary.BigEndian.Uint64(b)
	e.recordedAt = int64(binary.BigEndian.Uint64(b[8:]))
	copy(e.mac[:], b[16:])
	return e, nil
}

// recordValue is a decoded record value.
type recordValue struct {
	public       []byte
	leaf         [32]byte
	sealedBefore []byte
	sealedAfter  []byte
}

func (r recordValue) encode() []byte {
	b := make([]byte, 0, 1+3*binary.MaxVarintLen32+len(r.public)+32+len(r.sealedBefore)+len(r.sealedAfter))
	b = append(b, recordValueV)
	b = binary.AppendUvarint(b, uint64(len(r.public)))
	b = append(b, r.public...)
	b = append(b, r.leaf[:]...)
	b = binary.AppendUvarint(b, uint64(len(r.sealedBefore)))
	b = append(b, r.sealedBefore...)
	b = binary.AppendUvarint(b, uint64(len(r.sealedAfter)))
	return append(b, r.sealedAfter...)
}

// errCorrupt reports a value that cannot be decoded.
var errCorrupt = errors.New("corrupt value")

func readBytes(b []byte, what string) (field, rest []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, fmt.Errorf("%s: bad length: %w", what, errCorrupt)
	}
	return b[k : k+int(n)], b[k+int(n):], nil
}

// decodeRecordValue decodes a record value without interpreting the public
// record. The returned slices alias b.
func decodeRecordValue(b []byte) (recordValue, error) {
	var r recordValue
	if len(b) == 0 || b[0] != recordValueV {
		return r, fmt.Errorf("record value: unknown version: %w", errCorrupt)
	}
	var err error
	rest := b[1:]
	if r.public, rest, err = readBytes(rest, "public record"); err != nil {
		return r, err
	}
	if len(rest) < 32 {
		return r, fmt.Errorf("record value: leaf hash truncated: %w", errCorrupt)
	}
	copy(r.leaf[:], rest)
	rest = rest[32:]
	if r.sealedBefore, rest, err = readBytes(rest, "sealed beforeState"); err != nil {
		return r, err
	}
	if r.sealedAfter, rest, err = readBytes(rest, "sealed afterState"); err != nil {
		return r, err
	}
	if len(rest) != 0 {
		return r, fmt.Errorf("record value: %d trailing bytes: %w", len(rest), errCorrupt)
	}
	return r, nil
}

// leafHash is the RFC 6962 leaf hash of a public record.
func leafHash(public []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(public)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// publicRecord is the decoded public record.
type publicRecord struct {
	ActionType            string          `json:"actionType"`
	AfterStateCommitment  string          `json:"afterStateCommitment,omitempty"`
	BeforeStateCommitment string          `json:"beforeStateCommitment,omitempty"`
	Category              string          `json:"category"`
	FormatVersion         int             `json:"formatVersion"`
	ID                    string          `json:"id"`
	Metadata              json.RawMessage `json:"metadata,omitempty"`
	OrganizationID        string          `json:"organizationId"`
	PrevHash              string          `json:"prevHash"`
	Provider              string          `json:"provider"`
	RecordedAt            string          `json:"recordedAt"`
	ResourceIDs           []string        `json:"resourceIds"`
	RiskLevel             string          `json:"riskLevel"`
	Seq                   uint64          `json:"seq"`
	Status                string          `json:"status"`
	Timestamp             string          `json:"timestamp"`
	UserID                string          `json:"userId"`
}

// decodePublic parses a public record strictly.
func decodePublic(b []byte) (publicRecord, error) {
	var p publicRecord
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&p); err != nil {
		return p, fmt.Errorf("public record: %v: %w", err, errCorrupt)
	}
	if d.More() {
		return p, fmt.Errorf("public record: trailing data: %w", errCorrupt)
	}
	if p.FormatVersion != FormatVersion {
		return p, fmt.Errorf("public record: format version %d not supported: %w", p.FormatVersion, errCorrupt)
	}
	return p, nil
}

// appendJSONString appends s as an RFC 8785 string: only '"', '\\' and
// control characters are escaped (short forms where JSON has them), nothing
// else, unlike encoding/json which also escapes <, >, & and U+2028/9.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

func appendMember(b []byte, name, value string) []byte {
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	b = appendJSONString(b, value)
	return append(b, ',')
}

func appendHexMember(b []byte, name string, h []byte) []byte {
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, '"', ':', '"')
	b = hex.AppendEncode(b, h)
	return append(b, '"', ',')
}

// publicParts are the pieces of a public record known before the writer
// assigns seq, recordedAt and prevHash; the writer splices those in
// (assemblePublic), so the single writer does no JSON encoding of its own.
type publicParts struct {
	a []byte // "{" ... "organizationId":...,
	b []byte // "provider":...,
	c []byte // "resourceIds":[...],"riskLevel":...,
	d []byte // "status":...,"timestamp":...,"userId":...}
}

func buildPublicParts(e *Event, category string, beforeC, afterC []byte, metadata []byte) publicParts {
	var p publicParts
	a := make([]byte, 0, 256+len(metadata))
	a = append(a, '{')
	a = appendMember(a, "actionType", e.ActionType)
	if afterC != nil {
		a = appendHexMember(a, "afterStateCommitment", afterC)
	}
	if beforeC != nil {
		a = appendHexMember(a, "beforeStateCommitment", beforeC)
	}
	a = appendMember(a, "category", category)
	a = append(a, `"formatVersion":`...)
	a = strconv.AppendInt(a, FormatVersion, 10)
	a = append(a, ',')
	a = appendMember(a, "id", e.ID)
	if len(metadata) > 0 {
		a = append(a, `"metadata":`...)
		a = append(a, metadata...)
		a = append(a, ',')
	}
	a = appendMember(a, "organizationId", e.OrganizationID)
	p.a = a
	p.b = appendMember(nil, "provider", e.Provider)
	c := append([]byte(nil), `"resourceIds":[`...)
	for i, r := range e.ResourceIDs {
		if i > 0 {
			c = append(c, ',')
		}
		c = appendJSONString(c, r)
	}
	c = append(c, ']', ',')
	p.c = appendMember(c, "riskLevel", e.RiskLevel)
	d := appendMember(nil, "status", e.Status)
	d = appendMember(d, "timestamp", formatTime(e.Timestamp))
	d = appendMember(d, "userId", e.UserID)
	d[len(d)-1] = '}'
	p.d = d
	return p
}

func (p *publicParts) assemble(dst []byte, prev [32]byte, recordedAt string, seq uint64) []byte {
	dst = append(dst, p.a...)
	dst = appendHexMember(dst, "prevHash", prev[:])
	dst = append(dst, p.b...)
	dst = appendMember(dst, "recordedAt", recordedAt)
	dst = append(dst, p.c...)
	dst = append(dst, `"seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, ',')
	return append(dst, p.d...)
}

// summary is what index entries carry about their event.
type summary struct {
	provider, status, risk string
	category, actionType   string
	userID                 string

	match bool // whether a scan's filter matches it (summaryMemo); not encoded
}

func enumIndex(list []string, v string) byte {
	for i, s := range list {
		if s == v {
			return byte(i + 1)
		}
	}
	return 0
}

func enumValue(list []string, i byte) string {
	if i == 0 || int(i) > len(list) {
		return ""
	}
	return list[i-1]
}

func (s summary) encode() []byte {
	return s.appendTo(make([]byte, 0, 8+len(s.category)+len(s.actionType)+len(s.userID)))
}

func (s summary) appendTo(b []byte) []byte {
	b = append(b, summaryV, enumIndex(Providers, s.provider), enumIndex(Statuses, s.status), enumIndex(RiskLevels, s.risk))
	b = binary.AppendUvarint(b, uint64(len(s.category)))
	b = append(b, s.category...)
	b = binary.AppendUvarint(b, uint64(len(s.actionType)))
	b = append(b, s.actionType...)
	b = binary.AppendUvarint(b, uint64(len(s.userID)))
	return append(b, s.userID...)
}

func decodeSummary(b []byte) (summary, error) {
	var s summary
	if len(b) < 4 || b[0] != summaryV {
		return s, fmt.Errorf("index summary: unknown version: %w", errCorrupt)
	}
	s.provider = enumValue(Providers, b[1])
	s.status = enumValue(Statuses, b[2])
	s.risk = enumValue(RiskLevels, b[3])
	rest := b[4:]
	var f []byte
	var err error
	if f, rest, err = readBytes(rest, "category"); err != nil {
		return s, err
	}
	s.category = string(f)
	if f, rest, err = readBytes(rest, "actionType"); err != nil {
		return s, err
	}
	s.actionType = string(f)
	if f, rest, err = readBytes(rest, "userId"); err != nil {
		return s, err
	}
	s.userID = string(f)
	if len(rest) != 0 {
		return s, fmt.Errorf("index summary: trailing bytes: %w", errCorrupt)
	}
	return s, nil
}

// validOrg reports whether org matches ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$.
// The key layout depends on it (no 0x00), so the store checks it itself
// even though the validator does too.
func validOrg(org string) bool {
	if len(org) == 0 || len(org) > 128 {
		return false
	}
	for i := 0; i < len(org); i++ {
		c := org[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || (c != '.' && c != '_' && c != '-')) {
			return false
		}
	}
	return true
}

// validKeyString reports whether s can be part of a key (indexed value).
func validKeyString(s string) bool {
	return utf8.ValidString(s) && bytes.IndexByte([]byte(s), 0) < 0
}
