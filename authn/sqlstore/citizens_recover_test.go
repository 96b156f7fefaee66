package sqlstore

import (
	"testing"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/storetest"
)

func TestRecoveryConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			storetest.RunRecovery(t, func(t *testing.T) authn.Store { return openURL(t, b.url(t)) })
		})
	}
}
