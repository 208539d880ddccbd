package bitrix_test

import (
	"context"
	"fmt"
	"log"
	"net/url"

	"github.com/redis/go-redis/v9"

	"segmentor/bitrix"
)

func ExampleNewClient() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	c, err := bitrix.NewClient(bitrix.Config{
		ClientID:     "app.573ad8a0346747.09223434",
		ClientSecret: "secret",
		Redis:        rdb,
		Tokens:       bitrix.NewMemoryTokenStore(), // the app keeps them encrypted in Redis
		Profile: func(ctx context.Context, memberID string) (bitrix.Profile, error) {
			return bitrix.ProfileForLicense("ent"), nil // from app.info LICENSE_FAMILY
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	p := c.Portal("a223c6b3710f85df22e9377d6c4f7553")
	var deal struct {
		ID          bitrix.ID
		OPPORTUNITY bitrix.Money
		CLOSED      bitrix.Bool
		DATE_MODIFY bitrix.Time
	}
	if _, err := p.Call(context.Background(), "crm.deal.get", map[string]any{"id": 7405}, &deal); err != nil {
		switch {
		case bitrix.IsNotFound(err): // deleted meanwhile
		case bitrix.IsPortalGone(err): // uninstalled or tokens dead: stop the portal's jobs
		}
	}
}

func ExamplePortalClient_Scan() {
	var p *bitrix.PortalClient // from Client.Portal
	var saved bitrix.ID        // a checkpoint from an earlier, interrupted run
	cursor, err := p.Scan(context.Background(), bitrix.ScanOptions{
		Method: "crm.deal.list",
		Select: []string{"ID", "CONTACT_ID", "COMPANY_ID", "OPPORTUNITY", "STAGE_SEMANTIC_ID"},
		Filter: map[string]any{"CATEGORY_ID": 0},
		After:  saved,
	}, func(page *bitrix.ScanPage) error {
		deals, err := bitrix.DecodeRows[struct {
			ID          bitrix.ID
			OPPORTUNITY bitrix.Money
		}](page)
		_ = deals // update the mirror, then checkpoint page.LastID
		return err
	})
	_, _ = cursor, err
}

func ExamplePortalClient_Batch() {
	var p *bitrix.PortalClient
	res, _, err := p.Batch(context.Background(), []bitrix.Command{
		bitrix.Cmd("deal", "crm.deal.get", map[string]any{"id": 7405}),
		bitrix.Cmd("company", "crm.company.get", map[string]any{"id": "$result[deal][COMPANY_ID]"}),
	}, true)
	if err != nil {
		return
	}
	var company struct{ TITLE string }
	if err := res.Decode("company", &company); err != nil {
		fmt.Println(res.Failed(), res.Skipped())
	}
}

func ExampleParseEvent() {
	form, _ := url.ParseQuery("event=ONCRMDEALMOVETOCATEGORY&data[FIELDS][ID]=6675&data[FIELDS][CATEGORY_ID]=1" +
		"&data[FIELDS][STAGE_ID]=C1:NEW&ts=1736405807&auth[member_id]=a223c6b3710f85df22e9377d6c4f7553" +
		"&auth[application_token]=51856fefc120afa4b628cc82d3935cce")
	ev, err := bitrix.ParseEvent(form)
	if err != nil {
		fmt.Println(err)
		return
	}
	entity, action := ev.Entity()
	fmt.Println(entity, action, ev.RecordID, ev.CategoryID, ev.StageID, ev.Auth.AccessToken == "")
	fmt.Println(ev.Verify("51856fefc120afa4b628cc82d3935cce"))
	// Output:
	// deal movetocategory 6675 1 C1:NEW true
	// true
}
