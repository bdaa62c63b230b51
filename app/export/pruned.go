package export

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

// PrunedFile is the file of a bundle (version 4 on) that says which events
// of the export's filter retention had pruned before the export: an export
// of a range that lost events to retention says so, rule by rule, instead
// of reading as if the range had held only what it carries.
const PrunedFile = "pruned.json"

// Pruned is pruned.json.
type Pruned struct {
	// Exact: the filter looks only at what a pruned event keeps (its time,
	// category and action type; its id too, but a text filter, which
	// could match it, matches other fields as well), so Count is exactly the pruned events the
	// filter would have exported; otherwise it is those it may have (an
	// upper bound).
	Exact bool `json:"exact"`
	// Count is the number of pruned events, the sum of the rules' counts.
	Count int64 `json:"count"`
	// Rules are the retention rules that pruned them, ordered by policy
	// version, name and window.
	Rules []PrunedRule `json:"rules"`
}

// PrunedRule is what one retention rule pruned of the export's filter.
type PrunedRule struct {
	Policy        string `json:"policy"` // e.g. "operational 90 days (v2)"
	PolicyVersion uint32 `json:"policyVersion"`
	WindowDays    uint32 `json:"windowDays"`
	Count         int64  `json:"count"`
	// Categories counts the pruned events by category; the counts add up
	// to Count.
	Categories map[string]int64 `json:"categories"`
	// The smallest and largest pruned seq, the oldest and newest pruned
	// event's timestamp, and when the first and last of them were pruned.
	FirstSeq        uint64 `json:"firstSeq"`
	LastSeq         uint64 `json:"lastSeq"`
	OldestTimestamp string `json:"oldestTimestamp"`
	NewestTimestamp string `json:"newestTimestamp"`
	FirstPrunedAt   string `json:"firstPrunedAt"`
	LastPrunedAt    string `json:"lastPrunedAt"`
	// The policy version: when it was made, by whom, and when it took
	// effect (a shortened window, a week later). Empty when the source
	// cannot tell, or for the built-in default (version 0).
	PolicyChangedAt     string `json:"policyChangedAt,omitempty"`
	PolicyChangedBy     string `json:"policyChangedBy,omitempty"`
	PolicyEffectiveFrom string `json:"policyEffectiveFrom,omitempty"`
}

// PolicyHistorian is implemented by sources that can give an
// organization's retention policy versions (storage.Store.RetentionHistory):
// pruned.json then says when each rule's version was made and by whom.
type PolicyHistorian interface {
	RetentionHistory(ctx context.Context, org string) ([]storage.RetentionPolicy, error)
}

// describePolicies fills in each rule's policy version from history.
func (p *Pruned) describePolicies(history []storage.RetentionPolicy) {
	for i := range p.Rules {
		r := &p.Rules[i]
		for _, v := range history {
			if v.Version != r.PolicyVersion || v.Version == 0 {
				continue
			}
			changed := v.ChangedAt
			if changed.IsZero() {
				changed = v.EffectiveFrom
			}
			r.PolicyChangedAt, r.PolicyChangedBy = formatTime(changed), v.ChangedBy
			r.PolicyEffectiveFrom = formatTime(v.EffectiveFrom)
		}
	}
}

// String says in one line what retention had pruned, for a person.
func (p Pruned) String() string {
	if p.Count == 0 {
		return "retention had pruned none of the events this filter selects"
	}
	var rules []string
	upTo := ""
	if !p.Exact {
		upTo = "up to "
	}
	for _, r := range p.Rules {
		rules = append(rules, fmt.Sprintf("%s%d by %s, pruned %s", upTo, r.Count, r.Policy, prunedSpan(r.FirstPrunedAt, r.LastPrunedAt)))
	}
	what := "this filter selects"
	if !p.Exact {
		what = "this filter may have selected (a pruned event keeps only its id, time, category and action type)"
	}
	return fmt.Sprintf("retention had pruned %s %s: %s", plural(p.Count, "event"), what, strings.Join(rules, "; "))
}

// prunedSpan says when a rule pruned, to the second.
func prunedSpan(first, last string) string {
	first, last = toSecond(first), toSecond(last)
	if first == last {
		return "at " + first
	}
	return "from " + first + " to " + last
}

func toSecond(s string) string {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC().Format(time.RFC3339)
	}
	return s
}

func plural(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// prunedTally sums the pruned events of an export by rule.
type prunedTally struct {
	exact bool
	rules map[prunedRuleKey]*prunedSpanTally
}

type prunedRuleKey struct {
	policy  string
	version uint32
	window  uint32
}

type prunedSpanTally struct {
	count             int64
	categories        map[string]int64
	firstSeq, lastSeq uint64
	oldest, newest    time.Time
	firstAt, lastAt   time.Time
}

func newPrunedTally(exact bool) *prunedTally {
	return &prunedTally{exact: exact, rules: map[prunedRuleKey]*prunedSpanTally{}}
}

func (t *prunedTally) add(p *storage.PrunedEvent) {
	k := prunedRuleKey{p.Policy, p.PolicyVersion, p.WindowDays}
	r := t.rules[k]
	if r == nil {
		r = &prunedSpanTally{categories: map[string]int64{}, firstSeq: p.Seq, lastSeq: p.Seq,
			oldest: p.Timestamp, newest: p.Timestamp, firstAt: p.PrunedAt, lastAt: p.PrunedAt}
		t.rules[k] = r
	}
	r.count++
	r.categories[p.Category]++
	r.firstSeq, r.lastSeq = min(r.firstSeq, p.Seq), max(r.lastSeq, p.Seq)
	if p.Timestamp.Before(r.oldest) {
		r.oldest = p.Timestamp
	}
	if p.Timestamp.After(r.newest) {
		r.newest = p.Timestamp
	}
	if p.PrunedAt.Before(r.firstAt) {
		r.firstAt = p.PrunedAt
	}
	if p.PrunedAt.After(r.lastAt) {
		r.lastAt = p.PrunedAt
	}
}

func (t *prunedTally) result() Pruned {
	out := Pruned{Exact: t.exact, Rules: []PrunedRule{}}
	for k, r := range t.rules {
		out.Count += r.count
		out.Rules = append(out.Rules, PrunedRule{Policy: k.policy, PolicyVersion: k.version, WindowDays: k.window,
			Count: r.count, Categories: r.categories, FirstSeq: r.firstSeq, LastSeq: r.lastSeq,
			OldestTimestamp: formatTime(r.oldest), NewestTimestamp: formatTime(r.newest),
			FirstPrunedAt: formatTime(r.firstAt), LastPrunedAt: formatTime(r.lastAt)})
	}
	slices.SortFunc(out.Rules, comparePrunedRules)
	return out
}

func comparePrunedRules(a, b PrunedRule) int {
	return cmp.Or(cmp.Compare(a.PolicyVersion, b.PolicyVersion), strings.Compare(a.Policy, b.Policy),
		cmp.Compare(a.WindowDays, b.WindowDays))
}

// encodePruned is pruned.json's bytes: indented, members in a fixed order.
func encodePruned(p Pruned) ([]byte, error) {
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// ParsePruned reads pruned.json strictly: every member known and present,
// the counts adding up, every rule's spans in order, the rules in order.
func ParsePruned(data []byte) (Pruned, error) {
	var p Pruned
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("does not parse: %v", err)
	}
	if dec.More() {
		return p, fmt.Errorf("has more than one JSON value")
	}
	var raw struct {
		Exact, Count, Rules json.RawMessage
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return p, fmt.Errorf("does not parse: %v", err)
	}
	for _, m := range []struct {
		name string
		v    json.RawMessage
	}{{"exact", raw.Exact}, {"count", raw.Count}, {"rules", raw.Rules}} {
		if len(m.v) == 0 || string(m.v) == "null" {
			return p, fmt.Errorf("lacks %s", m.name)
		}
	}
	var sum int64
	for i, r := range p.Rules {
		where := fmt.Sprintf("rules[%d]", i)
		switch {
		case r.Policy == "":
			return p, fmt.Errorf("%s.policy is empty", where)
		case r.WindowDays == 0:
			return p, fmt.Errorf("%s.windowDays is 0: retention never prunes under an indefinite window", where)
		case r.Count <= 0:
			return p, fmt.Errorf("%s.count is %d: a rule is listed only when it pruned events", where, r.Count)
		case r.FirstSeq == 0 || r.FirstSeq > r.LastSeq:
			return p, fmt.Errorf("%s: firstSeq %d and lastSeq %d are not a range of seqs", where, r.FirstSeq, r.LastSeq)
		case uint64(r.Count) > r.LastSeq-r.FirstSeq+1:
			return p, fmt.Errorf("%s.count %d is more than the %d seqs from firstSeq to lastSeq", where, r.Count, r.LastSeq-r.FirstSeq+1)
		}
		var cats int64
		for _, c := range slices.Sorted(maps.Keys(r.Categories)) {
			if n := r.Categories[c]; c == "" || n <= 0 {
				return p, fmt.Errorf("%s.categories[%q] is %d", where, c, n)
			}
			cats += r.Categories[c]
		}
		if cats != r.Count {
			return p, fmt.Errorf("%s: its categories add up to %d, its count is %d", where, cats, r.Count)
		}
		if (r.PolicyChangedAt == "") != (r.PolicyEffectiveFrom == "") || r.PolicyChangedBy != "" && r.PolicyChangedAt == "" {
			return p, fmt.Errorf("%s: policyChangedAt, policyEffectiveFrom (and policyChangedBy) go together", where)
		}
		spans := [][2]string{{r.OldestTimestamp, r.NewestTimestamp}, {r.FirstPrunedAt, r.LastPrunedAt}}
		if r.PolicyChangedAt != "" {
			// Made, in force, then pruning.
			spans = append(spans, [2]string{r.PolicyChangedAt, r.PolicyEffectiveFrom}, [2]string{r.PolicyEffectiveFrom, r.FirstPrunedAt})
		}
		for _, span := range spans {
			a, errA := time.Parse(time.RFC3339Nano, span[0])
			b, errB := time.Parse(time.RFC3339Nano, span[1])
			if errA != nil || errB != nil || a.After(b) {
				return p, fmt.Errorf("%s: %q to %q is not a span of times", where, span[0], span[1])
			}
		}
		if i > 0 && comparePrunedRules(p.Rules[i-1], r) >= 0 {
			return p, fmt.Errorf("%s is out of order or repeats a rule", where)
		}
		sum += r.Count
	}
	if sum != p.Count {
		return p, fmt.Errorf("its rules add up to %d events, its count is %d", sum, p.Count)
	}
	return p, nil
}
