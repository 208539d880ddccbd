package b24sim

import (
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"
)

// GenOptions size the CRM data Seed generates. Zero values take the defaults.
type GenOptions struct {
	Contacts  int // default 0
	Companies int // default 0
	Deals     int // default 0
	Years     int // the period the records spread over, ending at Now; default 3
	Pipelines int // pipelines besides the default one; default 2
	Products  int // catalog size; default 120 (in 8 sections): more than a 50-row page, as a real catalog
	Users     int // sales reps added as portal users; default 5
	MaxRows   int // product rows per deal, 1..MaxRows; default 3
	Now       time.Time

	// Activities is how many timeline activities (calls, e-mails,
	// meetings, tasks) are bound to the contacts, companies and deals;
	// default 0. They are drawn from a random source of their own, so the
	// records are the same with or without them.
	Activities int

	// Requisites gives the companies and about half the contacts
	// requisites with addresses (requisite_gen.go): most companies Polish,
	// with NIPs and voivodeships, others German, Czech, Russian and more.
	// Communications gives them phones and e-mails for
	// crm.duplicate.findbycomm, some shared. Both draw from random sources
	// of their own, so the records are the same with or without them.
	Requisites     bool
	Communications bool
}

// GenStats is what Seed made.
type GenStats struct {
	Contacts, Companies, Deals, ProductRows int
	Won, Lost, Open                         int
	Activities                              int
	Requisites, Addresses, Communications   int
	Pipelines                               []int
}

var (
	genFirst    = []string{"Anna", "Boris", "Clara", "David", "Elena", "Felix", "Greta", "Hugo", "Irina", "Jonas", "Kira", "Lev", "Maria", "Nikolai", "Olga", "Pavel", "Quentin", "Rosa", "Sergey", "Tanja", "Ulrich", "Vera", "Walter", "Xenia", "Yuri", "Zoe"}
	genLast     = []string{"Ivanov", "Schmidt", "Petrov", "Müller", "Smirnov", "Weber", "Kuznetsov", "Fischer", "Popov", "Wagner", "Sokolov", "Becker", "Lebedev", "Hoffmann", "Kozlov", "Koch", "Novikov", "Richter", "Morozov", "Klein"}
	genCoWord   = []string{"Acme", "Nord", "Baltic", "Orion", "Vega", "Polar", "Granit", "Helix", "Ural", "Delta", "Summit", "Atlas", "Birch", "Cobalt", "Falcon", "Lumen", "Quartz", "Sever", "Titan", "Zenith"}
	genCoKind   = []string{"Logistics", "Systems", "Foods", "Motors", "Pharma", "Textiles", "Energy", "Media", "Robotics", "Retail", "Bank", "Labs"}
	genCoForm   = []string{"LLC", "GmbH", "Ltd", "JSC", "Inc"}
	genSections = []string{"Software", "Hardware", "Services", "Consulting", "Training", "Support", "Licenses", "Spare parts"}
	genProducts = []string{"Basic", "Standard", "Pro", "Enterprise", "Starter kit", "Annual plan", "Add-on", "Bundle"}
	genPipes    = []string{"Wholesale", "Partners", "Enterprise", "Online store", "Tenders"}
	genDealPre  = []string{"Order", "Contract", "Subscription", "Project", "Supply", "Renewal"}
)

// Seed generates CRM data deterministically from Options.Seed (and the
// current contents: seeding twice adds more). Contacts are linked to
// companies, deals spread over Years ending at Now, across the default and
// Pipelines more pipelines, won, lost and open, in several currencies, with
// product rows from a catalog in sections. Seeding fires no events.
func (p *Portal) Seed(o GenOptions) GenStats {
	if o.Years <= 0 {
		o.Years = 3
	}
	if o.Pipelines < 0 {
		o.Pipelines = 0
	} else if o.Pipelines == 0 {
		o.Pipelines = 2
	}
	if o.Products <= 0 {
		o.Products = 120
	}
	if o.Users <= 0 {
		o.Users = 5
	}
	if o.MaxRows <= 0 {
		o.MaxRows = 3
	}
	if o.Now.IsZero() {
		o.Now = p.now()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c := &p.crm
	rng := rand.New(rand.NewPCG(p.opts.Seed^0xd47a5eed, uint64(c.deal.lastID)<<32|uint64(c.contact.lastID)))
	g := &gen{p: p, c: c, rng: rng, o: o, end: o.Now.Unix(), start: o.Now.AddDate(-o.Years, 0, 0).Unix()}
	g.users()
	g.catalog()
	g.pipelines()
	st := GenStats{}
	g.companies(o.Companies)
	g.contacts(o.Contacts)
	g.deals(o.Deals, &st)
	st.Activities = g.activities(o.Activities)
	if o.Requisites {
		st.Requisites, st.Addresses = g.requisites()
	}
	if o.Communications {
		st.Communications = g.communications()
	}
	st.Contacts, st.Companies = o.Contacts, o.Companies
	for _, cat := range c.categories {
		st.Pipelines = append(st.Pipelines, cat.id)
	}
	return st
}

type gen struct {
	p          *Portal
	c          *crmState
	rng        *rand.Rand
	o          GenOptions
	start, end int64
	userIDs    []int64
	types      map[string][]string // status lists by ENTITY_ID
}

func (g *gen) pick(list []string) string { return list[g.rng.IntN(len(list))] }

// genWomen are genFirst's women's names. genLast has surnames in a man's
// form; genFullName gives a Russian one a woman's form.
var genWomen = map[string]bool{"Anna": true, "Clara": true, "Elena": true, "Greta": true, "Irina": true, "Kira": true,
	"Maria": true, "Olga": true, "Rosa": true, "Tanja": true, "Vera": true, "Xenia": true, "Zoe": true}

// genFullName gives a surname the form that agrees with the first name: a
// woman's Russian surname ends in -ova or -eva (Olga Kuznetsova, Boris
// Kuznetsov); the others have one form (Olga Müller, Hugo Klein).
func genFullName(first, last string) (string, string) {
	if genWomen[first] && (strings.HasSuffix(last, "ov") || strings.HasSuffix(last, "ev")) {
		last += "a"
	}
	return first, last
}

func (g *gen) users() {
	ids := make([]int, 0, len(g.p.users))
	for id := range g.p.users {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for i := len(ids); i < g.o.Users+1; i++ {
		id := i + 1
		for g.p.users[id] != nil {
			id++
		}
		// Sales reps: their CRM role reads their own records only.
		first, last := genFullName(genFirst[(i*7)%len(genFirst)], genLast[(i*3)%len(genLast)])
		g.p.users[id] = &User{ID: id, Name: first, LastName: last, OwnOnly: true}
		ids = append(ids, id)
	}
	for _, id := range ids {
		g.userIDs = append(g.userIDs, int64(id))
	}
	g.types = map[string][]string{}
	for _, s := range g.c.statuses {
		if s.category < 0 {
			g.types[s.entityID] = append(g.types[s.entityID], s.statusID)
		}
	}
}

func (g *gen) catalog() {
	c := g.c
	if c.product.count > 0 {
		return
	}
	for _, name := range genSections {
		c.sections = append(c.sections, &section{id: c.nextSection, name: name})
		c.nextSection++
	}
	e := c.product
	now := g.end
	for i := 0; i < g.o.Products; i++ {
		sec := c.sections[i%len(c.sections)]
		r := newRecord(e, i+1)
		r.s[e.f("NAME").slot] = sec.name + " " + genProducts[(i/len(c.sections))%len(genProducts)] + " " + strconv.Itoa(i/(len(c.sections)*len(genProducts))+1)
		r.s[e.f("CURRENCY_ID").slot] = c.baseCurrency()
		r.n[e.f("SECTION_ID").slot] = int64(sec.id)
		r.n[e.f("PRICE").slot] = int64(10+g.rng.IntN(500)) * 1000 // whole tens
		r.n[e.f("ACTIVE").slot] = 1
		r.n[e.f("SORT").slot] = 500
		r.n[e.f("MEASURE").slot] = 9
		r.n[e.f("DATE_CREATE").slot] = g.start
		r.n[e.f("TIMESTAMP_X").slot] = now
		e.put(r)
	}
}

func (g *gen) pipelines() {
	for len(g.c.categories) < g.o.Pipelines+1 {
		n := len(g.c.categories) - 1
		g.c.addPipeline(genPipes[n%len(genPipes)], []string{"NEW", "PREPARATION", "PREPAYMENT_INVOICE", "EXECUTING", "FINAL_INVOICE"})
	}
}

// when spreads i of n creations over the period, in order, with jitter.
func (g *gen) when(i, n int) int64 {
	span := g.end - g.start
	t := g.start + span*int64(i)/int64(max(n, 1))
	return min(t+g.rng.Int64N(max(span/int64(max(n, 1)), 1)), g.end)
}

func (g *gen) later(t int64) int64 {
	if t >= g.end {
		return g.end
	}
	return t + g.rng.Int64N(g.end-t+1)
}

func (g *gen) companies(n int) {
	c, e := g.c, g.c.company
	f := func(name string) int { return e.f(name).slot }
	base := e.lastID
	for i := 0; i < n; i++ {
		r := newRecord(e, base+i+1)
		r.s[f("TITLE")] = g.pick(genCoWord) + " " + g.pick(genCoKind) + " " + g.pick(genCoForm)
		r.s[f("COMPANY_TYPE")] = g.pick(g.types["COMPANY_TYPE"])
		r.s[f("INDUSTRY")] = g.pick(g.types["INDUSTRY"])
		r.s[f("EMPLOYEES")] = g.pick(g.types["EMPLOYEES"])
		r.s[f("CURRENCY_ID")] = c.baseCurrency()
		r.n[f("REVENUE")] = int64(g.rng.IntN(5000)) * 100000
		r.n[f("OPENED")] = 1
		r.n[f("ASSIGNED_BY_ID")] = g.userIDs[g.rng.IntN(len(g.userIDs))]
		r.n[f("CREATED_BY_ID")] = r.n[f("ASSIGNED_BY_ID")]
		r.n[f("MODIFY_BY_ID")] = r.n[f("ASSIGNED_BY_ID")]
		t := g.when(i, n)
		r.n[f("DATE_CREATE")] = t
		r.n[f("DATE_MODIFY")] = g.later(t)
		e.put(r)
	}
}

func (g *gen) contacts(n int) {
	e := g.c.contact
	f := func(name string) int { return e.f(name).slot }
	base := e.lastID
	companies := g.c.company.lastID
	for i := 0; i < n; i++ {
		r := newRecord(e, base+i+1)
		r.s[f("NAME")], r.s[f("LAST_NAME")] = genFullName(g.pick(genFirst), g.pick(genLast))
		r.s[f("TYPE_ID")] = g.pick(g.types["CONTACT_TYPE"])
		r.s[f("SOURCE_ID")] = g.pick(g.types["SOURCE"])
		if companies > 0 && g.rng.IntN(10) < 7 {
			r.n[f("COMPANY_ID")] = int64(1 + g.rng.IntN(companies))
		}
		r.n[f("OPENED")] = 1
		r.n[f("ASSIGNED_BY_ID")] = g.userIDs[g.rng.IntN(len(g.userIDs))]
		r.n[f("CREATED_BY_ID")] = r.n[f("ASSIGNED_BY_ID")]
		r.n[f("MODIFY_BY_ID")] = r.n[f("ASSIGNED_BY_ID")]
		t := g.when(i, n)
		r.n[f("DATE_CREATE")] = t
		r.n[f("DATE_MODIFY")] = g.later(t)
		e.put(r)
	}
}

type genStage struct {
	open      []string
	won, lost []string
}

func (g *gen) deals(n int, st *GenStats) {
	c, e := g.c, g.c.deal
	f := func(name string) int { return e.f(name).slot }
	sTitle, sType, sStage, sCur, sSource := f("TITLE"), f("TYPE_ID"), f("STAGE_ID"), f("CURRENCY_ID"), f("SOURCE_ID")
	nCat, nProb, nOpp, nComp, nBegin, nClose := f("CATEGORY_ID"), f("PROBABILITY"), f("OPPORTUNITY"), f("COMPANY_ID"), f("BEGINDATE"), f("CLOSEDATE")
	nOpened, nClosed, nAssigned, nCreated, nModBy, nCreate, nModify := f("OPENED"), f("CLOSED"), f("ASSIGNED_BY_ID"), f("CREATED_BY_ID"), f("MODIFY_BY_ID"), f("DATE_CREATE"), f("DATE_MODIFY")
	nNew, nReturn, nManual := f("IS_NEW"), f("IS_RETURN_CUSTOMER"), f("IS_MANUAL_OPPORTUNITY")

	stages := map[int]*genStage{}
	for _, s := range c.statuses {
		if s.category < 0 {
			continue
		}
		gs := stages[s.category]
		if gs == nil {
			gs = &genStage{}
			stages[s.category] = gs
		}
		switch s.semantics {
		case 'S':
			gs.won = append(gs.won, s.statusID)
		case 'F':
			gs.lost = append(gs.lost, s.statusID)
		default:
			gs.open = append(gs.open, s.statusID)
		}
	}
	cats := make([]int, 0, len(c.categories))
	for _, cat := range c.categories {
		cats = append(cats, cat.id)
	}
	// Rates: deal amounts are drawn in the base currency and converted.
	type rate struct {
		code   string
		perOne float64 // base units per one unit
	}
	var rates []rate
	for _, cur := range c.currencies {
		a, _ := strconv.ParseFloat(cur.amount, 64)
		rates = append(rates, rate{cur.code, a / float64(max(cur.amountCnt, 1))})
	}
	contactsOf := map[int32][]int32{}
	for id := 1; id <= c.contact.lastID; id++ {
		if r := c.contact.get(id); r != nil {
			if comp := r.n[c.contact.f("COMPANY_ID").slot]; comp > 0 {
				contactsOf[int32(comp)] = append(contactsOf[int32(comp)], int32(id))
			}
		}
	}
	customers := map[int64]bool{} // companies (positive) and contacts (negative) with an earlier deal
	products := c.product.lastID
	priceSlot := c.product.f("PRICE").slot
	day := int64(86400)
	base := e.lastID
	var title []byte
	for i := 0; i < n; i++ {
		id := base + i + 1
		r := newRecord(e, id)
		created := g.when(i, n)
		r.n[nCreate] = created
		begin, _ := c.parseDate(time.Unix(created, 0))
		r.n[nBegin] = begin
		cat := 0
		if len(cats) > 1 && g.rng.IntN(10) >= 6 {
			cat = cats[1+g.rng.IntN(len(cats)-1)]
		}
		r.n[nCat] = int64(cat)
		gs := stages[cat]
		age := (g.end - created) / day
		roll := g.rng.IntN(100)
		wonPct, lostPct := 20, 15
		if age > 60 {
			wonPct, lostPct = 55, 30
		}
		var stage string
		closed := true
		switch {
		case roll < wonPct && len(gs.won) > 0:
			stage = gs.won[0]
			st.Won++
		case roll < wonPct+lostPct && len(gs.lost) > 0:
			stage = gs.lost[g.rng.IntN(len(gs.lost))]
			st.Lost++
		default:
			stage = gs.open[g.rng.IntN(len(gs.open))]
			closed = false
			st.Open++
		}
		r.s[sStage] = stage
		if closed {
			r.n[nClosed] = 1
			end := min(begin+int64(1+g.rng.IntN(90))*day, g.end)
			r.n[nClose], _ = c.parseDate(time.Unix(end, 0))
			r.n[nModify] = max(end, created)
		} else {
			r.n[nClose] = begin + 30*day
			r.n[nModify] = g.later(created)
			r.n[nProb] = int64(10 * (1 + g.rng.IntN(9)))
		}
		if stage == gs.open[0] {
			r.n[nNew] = 1
		}
		r.s[sType] = g.pick(g.types["DEAL_TYPE"])
		r.s[sSource] = g.pick(g.types["SOURCE"])
		cur := rates[0]
		if len(rates) > 1 && g.rng.IntN(10) >= 7 {
			cur = rates[g.rng.IntN(len(rates))]
		}
		r.s[sCur] = cur.code
		if comps := c.company.lastID; comps > 0 && g.rng.IntN(10) < 6 {
			comp := int32(1 + g.rng.IntN(comps))
			r.n[nComp] = int64(comp)
			if cs := contactsOf[comp]; len(cs) > 0 && g.rng.IntN(10) < 8 {
				r.contacts = []int32{cs[g.rng.IntN(len(cs))]}
			}
		} else if cts := c.contact.lastID; cts > 0 && g.rng.IntN(10) < 8 {
			r.contacts = []int32{int32(1 + g.rng.IntN(cts))}
			if g.rng.IntN(10) == 0 {
				if other := int32(1 + g.rng.IntN(cts)); other != r.contacts[0] {
					r.contacts = append(r.contacts, other)
				}
			}
		}
		if k := r.n[nComp]; k > 0 && customers[k] {
			r.n[nReturn] = 1
		} else if len(r.contacts) > 0 && customers[-int64(r.contacts[0])] {
			r.n[nReturn] = 1
		}
		if k := r.n[nComp]; k > 0 {
			customers[k] = true
		}
		if len(r.contacts) > 0 {
			customers[-int64(r.contacts[0])] = true
		}
		// Product rows; the amount is their sum, or a manual amount without rows.
		var total int64
		if products > 0 && g.rng.IntN(10) < 8 {
			rows := 1 + g.rng.IntN(g.o.MaxRows)
			r.rowLo = int32(len(c.rows))
			for k := 0; k < rows; k++ {
				pid := int32(1 + g.rng.IntN(products))
				price := c.product.get(int(pid)).n[priceSlot]
				price = int64(float64(price)/cur.perOne + 0.5)
				qty := int32(1 + g.rng.IntN(10))
				c.rows = append(c.rows, productRow{id: c.nextRowID, owner: int32(id), product: pid, qty: qty, price: price, sort: int32(10 * (k + 1))})
				c.nextRowID++
				total += price * int64(qty)
			}
			r.rowN = int32(rows)
			st.ProductRows += rows
		} else {
			total = int64(100+g.rng.IntN(20000)) * 100
			r.n[nManual] = 1
		}
		r.n[nOpp] = total
		r.n[nOpened] = 1
		r.n[nAssigned] = g.userIDs[g.rng.IntN(len(g.userIDs))]
		r.n[nCreated] = r.n[nAssigned]
		r.n[nModBy] = r.n[nAssigned]
		title = append(title[:0], genDealPre[g.rng.IntN(len(genDealPre))]...)
		title = append(title, " #"...)
		title = strconv.AppendInt(title, int64(id), 10)
		r.s[sTitle] = string(title)
		e.put(r)
	}
	st.Deals = n
}
