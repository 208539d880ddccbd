package engine

import (
	"testing"

	"segmentor/bitrix"
)

// A change of MaxChange deals is re-read in one batch: one list command per
// 50 ids, and the product-row pages beside them.
func TestMaxChangeFitsOneReread(t *testing.T) {
	lists := (MaxChange + bitrix.PageSize - 1) / bitrix.PageSize
	if lists+rowPages*lists > bitrix.MaxBatch {
		t.Errorf("a re-read of %d deals needs %d list commands and %d product-row pages: more than a batch's %d",
			MaxChange, lists, rowPages*lists, bitrix.MaxBatch)
	}
}
