package export

import (
	"encoding/json"
	"io"
	"strings"
)

// OCSFVersion is the OCSF schema version the ocsf format follows.
const OCSFVersion = "1.3.0"

// ocsfCategoryNames are the OCSF categories of the catalogue's classes.
var ocsfCategoryNames = map[int]string{1: "System Activity", 2: "Findings", 3: "Identity & Access Management",
	4: "Network Activity", 5: "Discovery", 6: "Application Activity"}

// ocsfActivityNames are the activities of the classes the catalogue maps to
// (99 is "Other" everywhere).
var ocsfActivityNames = map[int]map[int]string{
	1006: {1: "Create", 2: "Update", 3: "Delete", 4: "Enable", 5: "Disable", 6: "Start"},
	2003: {1: "Create", 2: "Update", 3: "Close"},
	2004: {1: "Create", 2: "Update", 3: "Close"},
	3001: {1: "Create", 2: "Enable", 3: "Password Change", 4: "Password Reset", 5: "Disable", 6: "Delete",
		7: "Attach Policy", 8: "Detach Policy", 9: "Lock", 10: "MFA Factor Enable", 11: "MFA Factor Disable", 12: "Unlock"},
	3002: {1: "Logon", 2: "Logoff", 3: "Authentication Ticket", 4: "Service Ticket Request", 5: "Service Ticket Renew", 6: "Preauth"},
	3003: {1: "Assign Privileges", 2: "Assign Groups"},
	3004: {1: "Create", 2: "Read", 3: "Update", 4: "Delete", 5: "Move", 6: "Enroll", 7: "Unenroll", 8: "Enable",
		9: "Disable", 10: "Activate", 11: "Deactivate", 12: "Suspend", 13: "Resume"},
	6001: {1: "Create", 2: "Read", 3: "Update", 4: "Delete", 5: "Search", 6: "Import", 7: "Export", 8: "Share"},
	6002: {1: "Install", 2: "Remove", 3: "Start", 4: "Stop", 5: "Restart", 6: "Enable", 7: "Disable", 8: "Update"},
	6003: {1: "Create", 2: "Read", 3: "Update", 4: "Delete"},
	6007: {1: "Started", 2: "Completed", 3: "Cancelled", 4: "Duration Violation", 5: "Pause Violation", 6: "Error",
		7: "Paused", 8: "Resumed", 9: "Restarted", 10: "Delayed"},
}

func ocsfActivityName(class, activity int) string {
	if activity == 99 {
		return "Other"
	}
	if n, ok := ocsfActivityNames[class][activity]; ok {
		return n
	}
	return "Unknown"
}

// OCSFSeverity maps a risk level to OCSF severity_id and its caption.
func OCSFSeverity(risk string) (int, string) {
	switch risk {
	case "low":
		return 2, "Low"
	case "medium":
		return 3, "Medium"
	case "high":
		return 4, "High"
	}
	return 0, "Unknown"
}

// ocsfEventSeverity is an event's OCSF severity: a finding's own
// (metadata.severity, which the catalogue requires of finding.created:
// informational … critical) where it has one, else its risk level's. A
// SIEM triages a Detection or Compliance Finding by it, and a critical
// finding of a routine, low-risk scan is still critical.
func ocsfEventSeverity(actionType, risk string, metadata json.RawMessage) (int, string) {
	if strings.HasPrefix(actionType, "finding.") && len(metadata) > 0 {
		var m struct {
			Severity string `json:"severity"`
		}
		if json.Unmarshal(metadata, &m) == nil {
			switch m.Severity {
			case "informational":
				return 1, "Informational"
			case "critical":
				return 5, "Critical"
			case "low", "medium", "high":
				return OCSFSeverity(m.Severity)
			}
		}
	}
	return OCSFSeverity(risk)
}

func ocsfStatus(status string) (int, string) {
	switch status {
	case "applied":
		return 1, "Success"
	case "failed":
		return 2, "Failure"
	case "pending":
		return 99, "Pending"
	case "rolled_back":
		return 99, "Rolled back"
	}
	return 0, "Unknown"
}

// ocsfEncoder writes one OCSF event per line, of the class the catalogue
// maps the action type to, with the base attributes every class requires,
// the class's own required attributes, and the whole Axiom record under
// unmapped.axiom. Entity Management puts the states in entity.data
// (before) and entity_result.data (after).
type ocsfEncoder struct{ p Product }

func (*ocsfEncoder) Begin(io.Writer) error { return nil }
func (*ocsfEncoder) End(io.Writer) error   { return nil }

type obj = map[string]any

func (o *ocsfEncoder) Encode(w io.Writer, r *Record) error {
	class, activity := r.OCSF.ClassUID, r.OCSF.ActivityID
	category := r.OCSF.CategoryUID
	if category == 0 {
		category = class / 1000
	}
	className := r.OCSF.ClassName
	activityName := ocsfActivityName(class, activity)
	sevID, sev := ocsfEventSeverity(r.ActionType, r.RiskLevel, r.Metadata)
	statusID, status := ocsfStatus(r.Status)
	ev := r.eventJSON()
	labels := make([]string, 0, len(r.Controls.SOC2)+len(r.Controls.ISO27001))
	for _, c := range r.Controls.SOC2 {
		labels = append(labels, "soc2:"+c)
	}
	for _, c := range r.Controls.ISO27001 {
		labels = append(labels, "iso27001:"+c)
	}
	user := obj{"uid": r.UserID, "name": r.UserID}
	resources := make([]obj, 0, len(r.ResourceIDs))
	for _, id := range r.ResourceIDs {
		resources = append(resources, obj{"uid": id})
	}
	title := eventTitle(r)
	e := obj{
		"activity_id": activity, "activity_name": activityName,
		"category_uid": category, "category_name": ocsfCategoryNames[category],
		"class_uid": class, "class_name": className,
		"type_uid": class*100 + activity, "type_name": className + ": " + activityName,
		"severity_id": sevID, "severity": sev,
		"status_id": statusID, "status": status, "status_code": r.Status,
		"time":    r.Timestamp.UnixMilli(),
		"message": title,
		"metadata": obj{
			"version":     OCSFVersion,
			"product":     obj{"name": "Axiom Audit", "vendor_name": "Axiom", "version": o.p.Version},
			"uid":         r.ID,
			"sequence":    r.Seq,
			"logged_time": r.RecordedAt.UnixMilli(),
			"log_name":    "axiom-audit/" + r.OrganizationID,
			"event_code":  r.ActionType,
			"labels":      labels,
			"tenant_uid":  r.OrganizationID,
		},
		"actor":     obj{"user": user},
		"resources": resources,
	}
	if r.Provider != "" && r.Provider != "system" {
		e["cloud"] = obj{"provider": r.Provider}
	}
	unmapped := ev
	switch class {
	case 6003: // API Activity: actor, api, src_endpoint
		e["api"] = obj{"operation": r.ActionType, "service": obj{"name": r.Provider}, "request": obj{"uid": r.ID}}
		e["src_endpoint"] = obj{"name": "axiom-agent", "svc_name": "axiom"}
	case 3004: // Entity Management: entity, entity_result
		entity := obj{"uid": firstOr(r.ResourceIDs, r.ID), "name": r.ActionType, "type": r.Category}
		result := obj{"uid": firstOr(r.ResourceIDs, r.ID), "name": r.ActionType, "type": r.Category}
		if len(r.BeforeState) > 0 {
			entity["data"] = json.RawMessage(r.BeforeState)
		}
		if len(r.AfterState) > 0 {
			result["data"] = json.RawMessage(r.AfterState)
		}
		unmapped.BeforeState, unmapped.AfterState = nil, nil
		e["entity"], e["entity_result"] = entity, result
	case 3001: // Account Change: user
		e["user"] = user
	case 3002: // Authentication: user (auth_protocol when known)
		e["user"] = user
		e["auth_protocol_id"], e["auth_protocol"] = 99, "Other"
		e["is_mfa"] = false
		e["service"] = obj{"name": r.Provider}
		e["dst_endpoint"] = obj{"svc_name": r.Provider}
	case 3003: // Authorize Session: user
		e["user"] = user
		e["privileges"] = []string{r.ActionType}
	case 6001: // Web Resources Activity: web_resources
		wr := make([]obj, 0, max(1, len(r.ResourceIDs)))
		for _, id := range r.ResourceIDs {
			wr = append(wr, obj{"uid": id, "type": r.Category})
		}
		if len(wr) == 0 {
			wr = append(wr, obj{"uid": r.ID, "name": r.ActionType, "type": r.Category})
		}
		e["web_resources"] = wr
	case 6002: // Application Lifecycle: app
		e["app"] = obj{"name": "Axiom Audit", "vendor_name": "Axiom", "version": o.p.Version}
	case 1006: // Scheduled Job Activity: job, device
		e["job"] = obj{"name": r.ActionType, "uid": r.ID, "file": obj{"name": r.ActionType, "type_id": 99, "type": "Workflow"}}
		e["device"] = obj{"type_id": 99, "type": "Cloud operations agent", "hostname": hostOr(o.p.Host)}
	case 6007: // Scan Activity: scan
		e["scan"] = obj{"uid": r.ID, "name": r.ActionType, "type_id": 99, "type": "Cloud configuration scan"}
	case 2003: // Compliance Finding: finding_info, compliance
		e["finding_info"] = obj{"uid": r.ID, "title": title, "types": []string{r.ActionType}, "created_time": r.Timestamp.UnixMilli()}
		reqs := append(append([]string{}, r.Controls.SOC2...), r.Controls.ISO27001...)
		e["compliance"] = obj{"standards": []string{"SOC 2", "ISO/IEC 27001:2022"}, "requirements": reqs,
			"control": strings.Join(reqs, ",")}
	case 2004: // Detection Finding: finding_info
		e["finding_info"] = obj{"uid": r.ID, "title": title, "types": []string{r.ActionType}, "created_time": r.Timestamp.UnixMilli()}
	}
	e["unmapped"] = obj{"axiom": unmapped}
	return writeJSONLine(w, e)
}

func firstOr(list []string, def string) string {
	if len(list) > 0 {
		return list[0]
	}
	return def
}

func hostOr(h string) string {
	if h == "" {
		return "axiom-agent"
	}
	return h
}

// eventTitle is the one-line message of r for a SIEM: its type's
// description (or its action type) and the event's own status, so that
// an applied change does not read as one of every status the type has.
func eventTitle(r *Record) string {
	t := r.Description
	if t == "" {
		t = r.ActionType
	}
	if r.Status == "" {
		return t
	}
	return strings.TrimSuffix(t, ".") + " (status " + r.Status + ")."
}
