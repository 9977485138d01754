// Package jobspec reads, checks and canonicalises the job spec a
// practitioner submits with "gridswarm submit job.yaml".
//
// Parse is strict: unknown fields, fields given twice and values of the
// wrong type are errors, and every problem in the file is reported at
// once, each as a *FieldError that names the field's path and, where the
// YAML gives one, its line ("line 7: model.hidden[1]: must be between 1
// and 4096, got 0").
//
//	YAML bytes (≤ 1 MiB)
//	    │ yaml.v3 → node tree (one document, a mapping)
//	    ▼
//	walker: field by field, path and line for each problem,
//	        records which fields were given
//	    │ no problems: yaml.v3 strict decode (KnownFields) builds the Spec
//	    ▼
//	defaults for the fields not given ── normalise (CIDs, -0, empty lists)
//	    │
//	    ▼
//	Validate: ranges, enums, cross-field rules ──► errors.Join(*FieldError…)
//	    │
//	    ▼
//	*Spec ── Canonical() ──► compact JSON, stable field order (persist, hash)
//
// Canonical JSON parses back with Parse (JSON is YAML) to an equal Spec, so
// the daemon can persist the canonical bytes and reload them.
// docs/jobspec.md documents every field.
package jobspec
