// Package demo generates realistic, causally ordered audit events for the
// demo profile, the desktop app's screenshots and load tests.
//
// # Stories
//
// Events come in stories, each a causal chain with consistent resource ids,
// plan ids and approval chains linked through metadata:
//
//   - onboarding: a user connects each cloud account (aws, azure, gcp), Axiom
//     assumes its role;
//   - scans: role assumed (occasionally failed and retried), scan started,
//     completed, partial or failed, findings with category, severity and
//     confidence, recommendations with rationale and monthly impact, and a
//     disposition by a person hours or days later;
//   - remediation: accepted recommendations become a plan (phases, blast
//     radius, rollback strategy, expected impact, version), approved by
//     several people (sometimes rejected and regenerated as a new version),
//     sometimes exported as Terraform (and sometimes applied outside Axiom),
//     then applied resource by resource with before and after states; a
//     failed or rolled-back mutation is followed by a rollback that is
//     triggered, executed and verified;
//   - user sessions, approval-policy edits, connection maintenance
//     (external id rotation), recurring workflows (drift detection,
//     compliance sweeps, verification jobs) and ReleaseOps releases.
//
// # Time and organizations
//
// Events are spread over Options.Span (90 days by default) ending at
// Options.End, denser on weekdays and in working hours of each
// organization's own time zone; at night the scheduled jobs and scans go on.
// Organizations have different sizes ("acme-prod" is the largest), people
// with email addresses on their own domain, and the services
// "svc-axiom-agent", "svc-release-pipeline" and "system".
//
// # Determinism
//
// [Generate] is a pure function of its [Options]: the same options give the
// same events byte for byte, including their ids, which are UUIDv7 (the
// millisecond timestamp, then bits from a generator seeded by Options.Seed).
// It streams: memory depends on the number of organizations and on how many
// stories overlap in time, never on the number of events.
package demo
