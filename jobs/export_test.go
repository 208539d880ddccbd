package jobs

// RefusedPage is refusedPage, for the external tests.
var RefusedPage = refusedPage
