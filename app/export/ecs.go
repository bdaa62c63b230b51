package export

import (
	"io"
	"strings"
)

// ECSVersion is the Elastic Common Schema version of the ecs format.
const ECSVersion = "8.11.0"

// ecsEncoder writes Elastic Common Schema documents, one per line (NDJSON).
// ECS fields carry what they can (@timestamp, event.*, user.id,
// organization.id, cloud.provider, related.*, labels); the rest of the
// record is under the custom field set "axiom".
type ecsEncoder struct{ p Product }

// ECSDocument is one ecs line.
type ECSDocument struct {
	Timestamp    string            `json:"@timestamp"`
	Message      string            `json:"message"`
	Event        ECSEvent          `json:"event"`
	User         ECSID             `json:"user"`
	Organization ECSID             `json:"organization"`
	Cloud        *ECSCloud         `json:"cloud,omitempty"`
	Related      ECSRelated        `json:"related"`
	ECS          ECSVersionField   `json:"ecs"`
	Labels       map[string]string `json:"labels"`
	Observer     ECSObserver       `json:"observer"`
	Axiom        EventJSON         `json:"axiom"`
}

// ECSEvent is the ECS event field set.
type ECSEvent struct {
	Kind     string   `json:"kind"`
	Category []string `json:"category"`
	Type     []string `json:"type"`
	Action   string   `json:"action"`
	Outcome  string   `json:"outcome"`
	ID       string   `json:"id"`
	Sequence uint64   `json:"sequence"`
	Created  string   `json:"created"`
	Severity int      `json:"severity"`
	Dataset  string   `json:"dataset"`
	Module   string   `json:"module"`
	Provider string   `json:"provider"`
	Hash     string   `json:"hash"`
}

// ECSID is a field set with an id (user, organization).
type ECSID struct {
	ID string `json:"id"`
}

// ECSCloud is the ECS cloud field set.
type ECSCloud struct {
	Provider string `json:"provider"`
}

// ECSRelated is the ECS related field set.
type ECSRelated struct {
	User []string `json:"user"`
	Hash []string `json:"hash"`
}

// ECSVersionField is the ECS ecs field set.
type ECSVersionField struct {
	Version string `json:"version"`
}

// ECSObserver names the product that observed the events.
type ECSObserver struct {
	Vendor  string `json:"vendor"`
	Product string `json:"product"`
	Version string `json:"version"`
	Type    string `json:"type"`
}

func (*ecsEncoder) Begin(io.Writer) error { return nil }
func (*ecsEncoder) End(io.Writer) error   { return nil }

// ecsCategorisation maps an OCSF class and activity to ECS event.kind,
// event.category and event.type (values from the ECS allowed lists).
func ecsCategorisation(classUID, activity int) (kind string, category, typ []string) {
	crud := func(other string) []string {
		switch activity {
		case 1:
			return []string{"creation"}
		case 2:
			return []string{"access"}
		case 3:
			return []string{"change"}
		case 4:
			return []string{"deletion"}
		}
		return []string{other}
	}
	switch classUID {
	case 3002: // Authentication
		if activity == 2 {
			return "event", []string{"authentication", "session"}, []string{"end"}
		}
		return "event", []string{"authentication", "session"}, []string{"start"}
	case 3003: // Authorize Session
		return "event", []string{"iam"}, []string{"admin"}
	case 3001: // Account Change
		return "event", []string{"iam"}, []string{"user", "change"}
	case 3004: // Entity Management
		return "event", []string{"iam", "configuration"}, crud("change")
	case 6003: // API Activity
		return "event", []string{"api"}, crud("info")
	case 6001: // Web Resources Activity
		return "event", []string{"web"}, []string{"access"}
	case 6002: // Application Lifecycle
		switch activity {
		case 3:
			return "event", []string{"process"}, []string{"start"}
		case 4:
			return "event", []string{"process"}, []string{"end"}
		}
		return "event", []string{"configuration"}, []string{"change"}
	case 1006: // Scheduled Job Activity
		return "event", []string{"process"}, []string{"info"}
	case 6007: // Scan Activity
		return "event", []string{"configuration", "vulnerability"}, []string{"info"}
	case 2003: // Compliance Finding
		return "state", []string{"configuration"}, []string{"info"}
	case 2004: // Detection Finding
		return "alert", []string{"intrusion_detection", "configuration"}, []string{"indicator"}
	}
	return "event", []string{"configuration"}, []string{"info"}
}

func (x *ecsEncoder) Encode(w io.Writer, r *Record) error {
	kind, category, typ := ecsCategorisation(r.OCSF.ClassUID, r.OCSF.ActivityID)
	ev := r.eventJSON()
	doc := ECSDocument{
		Timestamp: ev.Timestamp,
		Message:   r.ActionType + " by " + r.UserID,
		Event: ECSEvent{Kind: kind, Category: category, Type: typ, Action: r.ActionType, Outcome: outcome(r.Status),
			ID: r.ID, Sequence: r.Seq, Created: ev.RecordedAt, Severity: CEFSeverity(r.RiskLevel),
			Dataset: "axiom.audit", Module: "axiom", Provider: r.Provider, Hash: r.LeafHash},
		User:         ECSID{ID: r.UserID},
		Organization: ECSID{ID: r.OrganizationID},
		Related:      ECSRelated{User: []string{r.UserID}, Hash: []string{r.LeafHash}},
		ECS:          ECSVersionField{Version: ECSVersion},
		Labels: map[string]string{"soc2": strings.Join(r.Controls.SOC2, ","), "iso27001": strings.Join(r.Controls.ISO27001, ","),
			"retention": r.Retention},
		Observer: ECSObserver{Vendor: "Axiom", Product: "Axiom Audit", Version: x.p.Version, Type: "audit-log"},
		Axiom:    ev,
	}
	if r.Provider != "" && r.Provider != "system" {
		doc.Cloud = &ECSCloud{Provider: r.Provider}
	}
	for _, h := range []string{r.BeforeStateCommitment, r.AfterStateCommitment} {
		if h != "" {
			doc.Related.Hash = append(doc.Related.Hash, h)
		}
	}
	return writeJSONLine(w, &doc)
}
