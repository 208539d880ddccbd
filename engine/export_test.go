package engine

// RefusedPage is refusedPage, for the external tests.
var RefusedPage = refusedPage
