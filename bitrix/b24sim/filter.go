package b24sim

import "strings"

// A filterDialect is what one list method's documentation says its filter
// keys may carry: the prefixes it lists, and whether a field it does not
// know is refused. A prefix a method does not document is not read as an
// operator there: it stays part of the field name, which then names no
// field (crm.item.productrow.list has no "@": "@ownerId" is not ownerId).
type filterDialect struct {
	page     string   // the b24restdocs page the dialect follows
	prefixes []string // documented key prefixes
	// strict methods answer INVALID_ARG_VALUE for a field they cannot
	// filter by, as crm.item.list documents; the v2 lists ignore it.
	strict bool
}

// The dialects, each as its page lists it.
var (
	// crm.deal.list, and the contact, company, lead and product lists that
	// refer to it: no negated LIKE.
	dialectV2 = filterDialect{page: "api-reference/crm/deals/crm-deal-list.md",
		prefixes: []string{">=", ">", "<=", "<", "@", "!@", "%", "=%", "%=", "=", "!=", "!"}}
	// crm.item.list: the v2 set plus the negated LIKEs; unknown fields are
	// "not allowed in filter".
	dialectItem = filterDialect{page: "api-reference/crm/universal/crm-item-list.md",
		prefixes: []string{">=", ">", "<=", "<", "@", "!@", "%", "=%", "%=", "!%", "!=%", "!%=", "=", "!=", "!"},
		strict:   true}
	// crm.item.productrow.list: no @, !@ or bare !; "=" with an array is IN.
	dialectRows = filterDialect{page: "api-reference/crm/universal/product-rows/crm-item-productrow-list.md",
		prefixes: []string{"=", "%", ">", "<", "!=", "!%", ">=", "<=", "=%", "%=", "!=%", "!%="},
		strict:   true}
	// catalog.product.list: no @ or !@; "=" with an array is IN, "!" with
	// an array NOT IN.
	dialectCatalog = filterDialect{page: "api-reference/catalog/product/catalog-product-list.md",
		prefixes: []string{">=", ">", "<=", "<", "%", "=%", "%=", "!%", "!=%", "!%=", "=", "!=", "!"},
		strict:   true}
)

// prefixOps maps a documented prefix to the operator it means; raw LIKEs
// take their % wildcards from the value.
var prefixOps = map[string]struct {
	op  string
	raw bool
}{
	">=": {">=", false}, ">": {">", false}, "<=": {"<=", false}, "<": {"<", false},
	"@": {"in", false}, "!@": {"notin", false},
	"%": {"like", false}, "=%": {"like", true}, "%=": {"like", true},
	"!%": {"notlike", false}, "!=%": {"notlike", true}, "!%=": {"notlike", true},
	"=": {"=", false}, "!=": {"!=", false}, "!": {"!=", false},
}

// split reads a filter key: the longest documented prefix it starts with,
// and the field name after it. Without a prefix the operator is "=".
func (d filterDialect) split(key string) (op string, raw bool, name string) {
	best := ""
	for _, p := range d.prefixes {
		if len(p) > len(best) && strings.HasPrefix(key, p) {
			best = p
		}
	}
	if best == "" {
		return "=", false, key
	}
	o := prefixOps[best]
	return o.op, o.raw, key[len(best):]
}

// errFilterField is crm.item.list's documented refusal of a field it
// cannot filter by; the ORM-based methods answer alike.
func errFilterField(name string) *Error {
	return &Error{Status: 400, Code: "INVALID_ARG_VALUE", Description: "Invalid filter: field '" + name + "' is not allowed in filter"}
}

// errRequired is the documented refusal of a call without a required
// parameter (code 100 of crm.item.productrow.list).
func errRequired() *Error {
	return &Error{Status: 400, Code: "100", Description: "Required parameters not provided"}
}
