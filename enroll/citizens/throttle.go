package citizens

import (
	"context"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// Throttles of /register and /recover (review of #15): a stranger who knows
// her address must neither flood her mailbox nor lock her out. A request
// is counted three times:
//
//   - per address and client network (<prefix>:addrnet:<HMAC of both>):
//     over its limit the request is refused "too often". It is the only
//     per-address counter that refuses, so requests from other networks
//     cannot make hers refused;
//   - per client network (<prefix>:net:<network>): refused over its limit;
//   - per address from anywhere (register:mail:<HMAC>, recover:addr:<HMAC>),
//     only requests the two above let through: over addressMailCap the
//     request is answered as any other, but its
//     mail goes out only if it comes from a network she signed in from
//     recently (ownNetwork): the mails to her address are bounded, and her
//     own request from home still gets its link. A new address (a
//     registration) has no such network: over the cap it is not mailed
//     until the hour is up (logged).
//
// Whether a request is over the cap is known before the answer, whose it
// is only after (the worker that mails reads who exists), so the answer
// and its time do not tell either.
const (
	// addressMailCap requests an hour per address, from all networks
	// together, are mailed; more only from her own networks.
	addressMailCap = 10
	// ownNetworkSignIns: how many of her newest sign-ins name her own
	// networks.
	ownNetworkSignIns = 50
)

// addressCounts are the counts of one request.
type addressCounts struct {
	pair, network, address int
}

// limits are the refusing limits of one kind of request.
type limits struct {
	pair, network int
	window        time.Duration
}

// refused reports whether the counts are over l.
func (c addressCounts) refused(l limits) bool { return c.pair > l.pair || c.network > l.network }

// countAddressRequest counts a request for addr (canonical) from client
// under prefix ("register", "recover"): per address and network, and per
// network; only a request that passes those is counted per address (the
// counter named addrKey, kept from before: "register:mail",
// "recover:addr"), so that a stranger's refused requests do not use up
// her address's mails.
func (s *Service) countAddressRequest(ctx context.Context, prefix, addrKey, addr, client string, l limits) (addressCounts, error) {
	netw := clientNetwork(client)
	keys := []authn.ThrottleKey{
		{Key: prefix + ":addrnet:" + s.addressKey(addr+"\n"+netw), Window: l.window},
		{Key: prefix + ":net:" + netw, Window: l.window},
	}
	now := s.now()
	n, err := s.cfg.Store.HitThrottles(ctx, keys, now)
	if err != nil {
		return addressCounts{}, err
	}
	c := addressCounts{pair: n[0], network: n[1]}
	if c.refused(l) {
		return c, nil
	}
	c.address, err = s.cfg.Store.HitThrottle(ctx, addrKey+":"+s.addressKey(addr), now, l.window)
	return c, err
}

// ownNetwork reports whether client is in a network (clientNetwork) the
// person signed in from in her newest sign-ins.
func (s *Service) ownNetwork(ctx context.Context, userID, client string) (bool, error) {
	events, err := s.cfg.Store.RecentAudit(ctx, "user:"+userID, "signin", ownNetworkSignIns)
	if err != nil {
		return false, err
	}
	netw := clientNetwork(client)
	for _, ev := range events {
		if ev.ClientAddr != "" && clientNetwork(ev.ClientAddr) == netw {
			return true, nil
		}
	}
	return false, nil
}
