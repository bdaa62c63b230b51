// Package report writes compliance reports: what one organization's audit
// log says about a period, for an auditor.
//
// # The report folder
//
// [Write] creates, inside an existing folder,
// axiom-audit-report-<org>-<period>-<UTC time>/ (-2, -3, … added when
// that name is taken) holding:
//
//   - evidence/: the evidence bundle (app/export, JSON Lines) of the period's
//     material events, each with its inclusion proof against a checkpoint
//     signed for the bundle; states withheld;
//   - report.json: every figure of the report ([Report], schema
//     [SchemaVersion]; fields are only added);
//   - report.html: the same as a self-contained document (inline CSS and SVG
//     charts with titles, no script, no external request), laid out for A4;
//   - report.pdf: report.html printed by headless Chromium, when it is
//     installed (report.json and the HTML say when it is not);
//   - SHA256SUMS: the SHA-256 of every other file, in sha256sum's format.
//
// The folder is written under a hidden temporary name and renamed when
// complete; it never replaces an existing folder.
//
// # Figures
//
// [Build] pages once through the organization's events of the period,
// oldest first, and aggregates as it goes: per category, per SOC 2 and ISO
// 27001 control (the catalogue's mapping), per week, per risk level; plan
// chains linked by the metadata the agent records (planId on plans,
// approvals, Terraform exports, applies and rollbacks; applyEventId from a
// rollback to its apply; approvalChain and requiredApprovals on
// approvals); failed and rolled-back applies with their RTO; high-risk
// actions; drift detections; exports of the log. Lists are capped at
// [MaxListed]; counts are complete. Memory grows with the number of plans and
// failed applies of the period, never with the number of events.
//
// # Sources
//
// Integrity comes from an [IntegritySource] ([StoreIntegrity] verifies the
// whole organization's log with the store's Verify), retention from a
// [RetentionSource] ([DefaultRetention] until the retention sweeper provides
// one, with the pruned ranges), and the evidence from an [EvidenceWriter]
// ([ExportEvidence] over app/export).
package report
