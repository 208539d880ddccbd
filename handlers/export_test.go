package handlers

import "segmentor/app/i18n"

// TextsIn are the handlers' texts in lang, for tests that look for one
// language's words in a page of another.
func TextsIn(lang i18n.Lang) map[string]string { return texts[lang] }
