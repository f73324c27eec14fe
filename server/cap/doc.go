// Package cap owns Beacon's intake of OASIS Common Alerting Protocol
// messages: safe parsing of CAP 1.2 documents (and CAP 1.1, accepted
// explicitly), the typed Alert model with the rules Beacon applies to it
// (level, texts per language, expiry, duplicate key, which screens may show
// it, area geometry), and the verification of enveloped XML-DSig signatures
// against the certificates trusted for a source.
//
// It imports nothing else of Beacon's. The override model and the CAP routes
// build on it: they turn an accepted Alert into an override and record every
// refusal with the reason this package gives.
//
// Safety rules (see docs/cap.md): a document larger than Options.MaxBytes,
// one with a DOCTYPE (a DTD, so also any entity declaration), XInclude, an
// element outside the CAP namespace (other than a top-level ds:Signature),
// or nesting deeper than maxDepth is refused before any field is read.
// Nothing is ever fetched: not entities, not schemas, not resource URIs.
package cap
