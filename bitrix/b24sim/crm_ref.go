package b24sim

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// status is one reference value (crm.status.*): a type, a source, a stage.
type status struct {
	id        int
	entityID  string
	statusID  string
	name      string
	nameInit  string
	sort      int
	system    bool
	category  int // pipeline of a stage; -1 for other lists
	color     string
	semantics byte // stages: 'P', 'S', 'F'; 0 for other lists
}

// category is a deal pipeline.
type category struct {
	id   int
	name string
	sort int
}

type currency struct {
	code      string
	amountCnt int
	amount    string // price of amountCnt units in the base currency, "1.0800"
	sort      int
	base      bool
	fullName  string
}

type section struct {
	id     int
	name   string
	parent int
}

// productRow is one row of a deal's products; prices in cents of the deal's currency.
type productRow struct {
	id      int32
	owner   int32 // deal id; 0 when the deal is gone
	product int32
	qty     int32
	price   int64
	sort    int32
}

var defaultStatuses = map[string][][2]string{
	"CONTACT_TYPE": {{"CLIENT", "Clients"}, {"SUPPLIER", "Suppliers"}, {"PARTNER", "Partners"}, {"OTHER", "Other"}},
	"COMPANY_TYPE": {{"CUSTOMER", "Client"}, {"SUPPLIER", "Supplier"}, {"COMPETITOR", "Competitor"}, {"PARTNER", "Partner"}, {"OTHER", "Other"}},
	"DEAL_TYPE":    {{"SALE", "Sales"}, {"COMPLEX", "Integrated sale"}, {"GOODS", "Sale of goods"}, {"SERVICES", "Sale of services"}, {"SERVICE", "After-sales service"}},
	"SOURCE": {{"CALL", "Call"}, {"EMAIL", "E-Mail"}, {"WEB", "Website"}, {"ADVERTISING", "Advertising"}, {"PARTNER", "Existing client"},
		{"RECOMMENDATION", "By recommendation"}, {"TRADE_SHOW", "Show/Exhibition"}, {"WEBFORM", "CRM form"}, {"OTHER", "Other"}},
	"INDUSTRY": {{"IT", "Information Technology"}, {"TELECOM", "Telecommunication"}, {"MANUFACTURING", "Manufacturing"},
		{"BANKING", "Banking Services"}, {"CONSULTING", "Consulting"}, {"FINANCE", "Finance"}, {"GOVERNMENT", "Government"},
		{"DELIVERY", "Delivery"}, {"ENTERTAINMENT", "Entertainment"}, {"NOTPROFIT", "Non-profit"}, {"OTHER", "Other"}},
	"EMPLOYEES": {{"EMPLOYEES_1", "less than 50"}, {"EMPLOYEES_2", "50-250"}, {"EMPLOYEES_3", "250-500"}, {"EMPLOYEES_4", "over 500"}},
	// Lists the app never reads, which a real portal has as well: with them
	// an unfiltered crm.status.list spans several 50-row pages, as on a
	// real portal (about 78 rows; bitrix24-protocol.md §12.2).
	"STATUS": {{"NEW", "Unassigned"}, {"IN_PROCESS", "In progress"}, {"PROCESSED", "Processed"},
		{"CONVERTED", "Good lead"}, {"JUNK", "Junk lead"}},
	"QUOTE_STATUS": {{"DRAFT", "New"}, {"SENT", "Sent to client"}, {"RECEIVED", "Received"},
		{"APPROVED", "Approved"}, {"DECLAINED", "Declined"}},
	"HONORIFIC":             {{"HNR_EN_1", "Mr."}, {"HNR_EN_2", "Mrs."}, {"HNR_EN_3", "Ms."}, {"HNR_EN_4", "Dr."}},
	"CALL_LIST":             {{"IN_WORK", "In progress"}, {"SUCCESS", "Success"}, {"WRONG_NUMBER", "Wrong number"}, {"STOP_CALLING", "Do not call"}},
	"SMART_INVOICE_STAGE_1": {{"DT31_1:N", "New"}, {"DT31_1:S", "Sent"}, {"DT31_1:P", "Paid"}, {"DT31_1:D", "Cancelled"}},
}

// statusLists are the reference lists a new portal has, in the order
// crm.status.entity.types names them.
var statusLists = []string{"STATUS", "SOURCE", "CONTACT_TYPE", "COMPANY_TYPE", "EMPLOYEES", "INDUSTRY", "DEAL_TYPE",
	"QUOTE_STATUS", "HONORIFIC", "CALL_LIST", "SMART_INVOICE_STAGE_1"}

var defaultStages = [][3]string{
	{"NEW", "New", "P"}, {"PREPARATION", "Prepare documents", "P"}, {"PREPAYMENT_INVOICE", "Prepayment invoice", "P"},
	{"EXECUTING", "In progress", "P"}, {"FINAL_INVOICE", "Final invoice", "P"}, {"WON", "Deal won", "S"},
	{"LOSE", "Deal lost", "F"}, {"APOLOGY", "Analyze failure", "F"},
}

var stageColors = map[byte]string{'P': "#39A8EF", 'S': "#7BD500", 'F': "#FF5752"}

func (c *crmState) initStatuses() {
	for _, ent := range statusLists {
		for i, v := range defaultStatuses[ent] {
			c.addStatus(&status{entityID: ent, statusID: v[0], name: v[1], nameInit: v[1], sort: 10 * (i + 1), system: i == 0, category: -1})
		}
	}
	c.categories = []*category{{id: 0, name: "General", sort: 100}}
	c.nextCatID = 1
	for i, s := range defaultStages {
		c.addStatus(&status{entityID: "DEAL_STAGE", statusID: s[0], name: s[1], nameInit: s[1], sort: 10 * (i + 1),
			system: true, category: 0, semantics: s[2][0], color: stageColors[s[2][0]]})
	}
}

func (c *crmState) addStatus(s *status) {
	s.id = c.nextStatus
	c.nextStatus++
	c.statuses = append(c.statuses, s)
	if s.semantics != 0 {
		c.stages[s.statusID] = stageRef{category: s.category, semantics: s.semantics, sort: s.sort}
	}
}

// addPipeline creates a deal pipeline with the stages C{n}:NEW … C{n}:WON, C{n}:LOSE.
func (c *crmState) addPipeline(name string, stages []string) int {
	id := c.nextCatID
	c.nextCatID++
	c.categories = append(c.categories, &category{id: id, name: name, sort: 100 + 10*id})
	if len(stages) == 0 {
		stages = []string{"NEW", "PREPARATION", "EXECUTING"}
	}
	all := make([][3]string, 0, len(stages)+2)
	for _, s := range stages {
		all = append(all, [3]string{s, strings.ToUpper(s[:1]) + strings.ToLower(strings.ReplaceAll(s[1:], "_", " ")), "P"})
	}
	all = append(all, [3]string{"WON", "Deal won", "S"}, [3]string{"LOSE", "Deal lost", "F"})
	for i, s := range all {
		c.addStatus(&status{entityID: "DEAL_STAGE_" + strconv.Itoa(id), statusID: fmt.Sprintf("C%d:%s", id, s[0]),
			name: s[1], nameInit: s[1], sort: 10 * (i + 1), system: true, category: id,
			semantics: s[2][0], color: stageColors[s[2][0]]})
	}
	return id
}

func (c *crmState) initCurrencies() {
	c.currencies = []*currency{
		{code: "USD", amountCnt: 1, amount: "1.0000", sort: 100, base: true, fullName: "US Dollar"},
		{code: "EUR", amountCnt: 1, amount: "1.0800", sort: 200, fullName: "Euro"},
		{code: "RUB", amountCnt: 100, amount: "1.1000", sort: 300, fullName: "Russian Ruble"},
		{code: "GBP", amountCnt: 1, amount: "1.2700", sort: 400, fullName: "British Pound Sterling"},
	}
}

func (c *crmState) baseCurrency() string {
	for _, cur := range c.currencies {
		if cur.base {
			return cur.code
		}
	}
	return "USD"
}

func (c *crmState) renderStatus(s *status) map[string]any {
	m := map[string]any{
		"ID": strconv.Itoa(s.id), "ENTITY_ID": s.entityID, "STATUS_ID": s.statusID, "NAME": s.name,
		"NAME_INIT": s.nameInit, "SORT": strconv.Itoa(s.sort), "SYSTEM": yn(s.system),
		"CATEGORY_ID": nil, "COLOR": nullable(s.color), "SEMANTICS": nil,
	}
	if s.category >= 0 {
		m["CATEGORY_ID"] = strconv.Itoa(s.category)
		sem := map[byte]string{'P': "process", 'S': "success", 'F': "failure"}[s.semantics]
		m["EXTRA"] = map[string]any{"SEMANTICS": sem, "COLOR": s.color}
		if s.semantics != 'P' {
			m["SEMANTICS"] = string(s.semantics)
		}
	}
	return m
}

func (p *Portal) registerReferenceMethods() {
	p.methods["crm.status.list"] = func(p *Portal, c *Call) (any, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		filter := c.Params.Map("filter")
		var rows []map[string]any
		for _, s := range p.crm.statuses {
			row := p.crm.renderStatus(s)
			if matchPlain(row, filter) {
				rows = append(rows, row)
			}
		}
		sort.SliceStable(rows, func(i, j int) bool {
			a, b := rows[i], rows[j]
			if a["ENTITY_ID"] != b["ENTITY_ID"] {
				return a["ENTITY_ID"].(string) < b["ENTITY_ID"].(string)
			}
			x, _ := strconv.Atoi(a["SORT"].(string))
			y, _ := strconv.Atoi(b["SORT"].(string))
			return x < y
		})
		out := make([]any, len(rows))
		for i, r := range rows {
			out[i] = r
		}
		return pageOf(out, c.Params), nil
	}
	p.methods["crm.status.add"] = func(p *Portal, c *Call) (any, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.crm.statusAdd(c.Params.Map("fields"))
	}
	p.methods["crm.status.entity.types"] = func(p *Portal, c *Call) (any, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.crm.statusEntityTypes(), nil
	}
	p.methods["crm.category.list"] = func(p *Portal, c *Call) (any, error) {
		et, _ := c.Params.Int("entityTypeId")
		if et != 2 {
			return nil, &Error{Status: 400, Code: "NOT_FOUND", Description: "Smart process not found"}
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		cats := []any{}
		for _, cat := range p.crm.categories {
			cats = append(cats, map[string]any{"id": cat.id, "name": cat.name, "sort": cat.sort, "entityTypeId": 2,
				"isDefault": yn(cat.id == 0), "originId": "", "originatorId": ""})
		}
		res := pageOf(cats, c.Params)
		res.Items = map[string]any{"categories": res.Items}
		return res, nil
	}
	p.methods["crm.currency.list"] = func(p *Portal, c *Call) (any, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		out := []any{}
		for _, cur := range p.crm.currencies {
			out = append(out, map[string]any{"CURRENCY": cur.code, "AMOUNT_CNT": strconv.Itoa(cur.amountCnt),
				"AMOUNT": cur.amount, "SORT": strconv.Itoa(cur.sort), "BASE": yn(cur.base), "FULL_NAME": cur.fullName,
				"LID": "en", "FORMAT_STRING": "# " + cur.code, "DEC_POINT": ".", "THOUSANDS_SEP": " ", "DECIMALS": "2"})
		}
		return pageOf(out, c.Params), nil
	}
	p.methods["crm.currency.base.get"] = func(p *Portal, c *Call) (any, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.crm.baseCurrency(), nil
	}
	p.methods["crm.productsection.list"] = func(p *Portal, c *Call) (any, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		filter := c.Params.Map("filter")
		out := []any{}
		for _, s := range p.crm.sections {
			row := map[string]any{"ID": strconv.Itoa(s.id), "CATALOG_ID": "25", "SECTION_ID": nil, "NAME": s.name,
				"CODE": nil, "XML_ID": nil}
			if s.parent > 0 {
				row["SECTION_ID"] = strconv.Itoa(s.parent)
			}
			if matchPlain(row, filter) {
				out = append(out, row)
			}
		}
		return pageOf(out, c.Params), nil
	}
	p.registerProductMethods()
}

// matchPlain is the simple equality filter of the reference lists.
func matchPlain(row map[string]any, filter Params) bool {
	for k, v := range filter {
		key := strings.ToUpper(strings.TrimPrefix(k, "="))
		if !strings.EqualFold(scalarString(row[key]), scalarString(v)) {
			return false
		}
	}
	return true
}

// statusAdd adds a reference value; a STATUS_ID taken in that list is an error.
func (c *crmState) statusAdd(f Params) (any, error) {
	ent := strings.ToUpper(f.String("ENTITY_ID"))
	sid := strings.TrimSpace(f.String("STATUS_ID"))
	name := f.String("NAME")
	if ent == "" || sid == "" || name == "" {
		return nil, &Error{Status: 400, Description: "ENTITY_ID, STATUS_ID and NAME are required."}
	}
	cat := -1
	var sem byte
	switch {
	case ent == "DEAL_STAGE":
		cat = 0
	case strings.HasPrefix(ent, "DEAL_STAGE_"):
		n, err := strconv.Atoi(strings.TrimPrefix(ent, "DEAL_STAGE_"))
		if err != nil || !c.categoryExists(n) {
			return nil, &Error{Status: 400, Description: "Entity " + ent + " not found."}
		}
		cat = n
		if prefix := fmt.Sprintf("C%d:", n); !strings.HasPrefix(sid, prefix) {
			sid = prefix + sid
		}
	case defaultStatuses[ent] == nil:
		known := false
		for _, s := range c.statuses {
			known = known || s.entityID == ent
		}
		if !known {
			return nil, &Error{Status: 400, Description: "Entity " + ent + " not found."}
		}
	}
	for _, s := range c.statuses {
		if s.entityID == ent && s.statusID == sid {
			return nil, &Error{Status: 400, Description: "Status with STATUS_ID " + sid + " already exists."}
		}
	}
	if cat >= 0 {
		sem = 'P'
		switch strings.ToUpper(f.String("SEMANTICS")) {
		case "S":
			sem = 'S'
		case "F":
			sem = 'F'
		}
	}
	s := &status{entityID: ent, statusID: sid, name: name, sort: 10, category: cat, semantics: sem, color: f.String("COLOR")}
	if n, ok := f.Int("SORT"); ok {
		s.sort = n
	}
	if sem != 0 && s.color == "" {
		s.color = stageColors[sem]
	}
	c.addStatus(s)
	return s.id, nil
}

func (c *crmState) statusEntityTypes() []any {
	out := []any{}
	for _, ent := range statusLists {
		out = append(out, map[string]any{"ID": ent, "NAME": ent, "ENTITY_TYPE_ID": nil})
	}
	for _, cat := range c.categories {
		id, prefix := "DEAL_STAGE", ""
		if cat.id > 0 {
			id, prefix = "DEAL_STAGE_"+strconv.Itoa(cat.id), "C"+strconv.Itoa(cat.id)
		}
		info := map[string]any{"START_FIELD": c.firstStage(cat.id)}
		for sid, st := range c.stages {
			if st.category == cat.id && st.semantics == 'S' {
				info["FINAL_SUCCESS_FIELD"] = sid
			}
			if st.category == cat.id && st.semantics == 'F' && (info["FINAL_UNSUCCESS_FIELD"] == nil || strings.HasSuffix(sid, "LOSE")) {
				info["FINAL_UNSUCCESS_FIELD"] = sid
			}
		}
		out = append(out, map[string]any{"ID": id, "NAME": "Deal stages (" + cat.name + ")", "PARENT_ID": "DEAL_STAGE",
			"SEMANTIC_INFO": info, "PREFIX": prefix, "ENTITY_TYPE_ID": 2, "CATEGORY_ID": cat.id})
	}
	return out
}
