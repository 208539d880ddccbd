// Package registry enriches customers with data from a public company
// registry: given a tax ID it answers who the company is (official name,
// main activity as a PKD code and its section, voivodeship, legal form,
// when it was registered and whether it still trades).
//
// The domain lives here and knows nothing of the wire: Company, the
// Provider interface with its sentinel errors, NIP validation, the PKD 2007
// section table and voivodeship names. Cached wraps any Provider with a
// Redis cache shared by every portal (registry data is public), a request
// budget shared by every process and bounded retries.
//
// Adapters live below: registry/gus speaks GUS BIR1.1 (the REGON registry's
// web service) and registry/gussim simulates it over real HTTP for tests
// and demos.
package registry
