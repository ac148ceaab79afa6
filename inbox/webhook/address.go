package webhook

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrForbiddenAddress is returned (inside an *AddressError) when a webhook
// would reach an address that is not on the public internet: private,
// loopback, link-local (cloud metadata at 169.254.169.254), unique-local,
// carrier-grade NAT, unspecified, multicast or reserved.
var ErrForbiddenAddress = errors.New("webhook: forbidden address")

// AddressError reports an address a webhook may not connect to.
type AddressError struct {
	Host   string         // the host name that resolved to Addr, "" for a literal address
	Addr   netip.AddrPort // the refused address
	Reason string         // "is private (10.0.0.0/8)"
}

func (e *AddressError) Error() string {
	if e.Host != "" {
		return fmt.Sprintf("webhook: %s resolves to %s, which %s; webhooks may only reach public addresses", e.Host, e.Addr.Addr(), e.Reason)
	}
	return fmt.Sprintf("webhook: address %s %s; webhooks may only reach public addresses", e.Addr.Addr(), e.Reason)
}

// Is makes errors.Is(err, ErrForbiddenAddress) hold.
func (e *AddressError) Is(target error) bool { return target == ErrForbiddenAddress }

// blockedRange is a range of addresses webhooks may not reach, and why.
type blockedRange struct {
	prefix netip.Prefix
	reason string
}

func blocked(prefix, reason string) blockedRange {
	return blockedRange{netip.MustParsePrefix(prefix), reason}
}

// blockedRanges lists the non-public ranges, checked in order (IANA
// special-purpose registries, RFC 6890 and successors).
var blockedRanges = [...]blockedRange{
	blocked("0.0.0.0/8", "is unspecified (\"this network\", 0.0.0.0/8)"),
	blocked("10.0.0.0/8", "is private (10.0.0.0/8)"),
	blocked("100.64.0.0/10", "is carrier-grade NAT shared space (100.64.0.0/10)"),
	blocked("127.0.0.0/8", "is loopback (127.0.0.0/8)"),
	blocked("169.254.0.0/16", "is link-local, where cloud metadata services live (169.254.0.0/16)"),
	blocked("172.16.0.0/12", "is private (172.16.0.0/12)"),
	blocked("192.0.0.0/24", "is reserved for IETF protocol assignments (192.0.0.0/24)"),
	blocked("192.0.2.0/24", "is reserved for documentation (192.0.2.0/24)"),
	blocked("192.88.99.0/24", "is the deprecated 6to4 relay anycast (192.88.99.0/24)"),
	blocked("192.168.0.0/16", "is private (192.168.0.0/16)"),
	blocked("198.18.0.0/15", "is reserved for benchmarking (198.18.0.0/15)"),
	blocked("198.51.100.0/24", "is reserved for documentation (198.51.100.0/24)"),
	blocked("203.0.113.0/24", "is reserved for documentation (203.0.113.0/24)"),
	blocked("224.0.0.0/4", "is multicast (224.0.0.0/4)"),
	blocked("240.0.0.0/4", "is reserved (240.0.0.0/4, including broadcast)"),
	blocked("::/128", "is unspecified (::)"),
	blocked("::1/128", "is loopback (::1)"),
	blocked("::/96", "is a deprecated IPv4-compatible address (::/96)"),
	blocked("64:ff9b:1::/48", "is local-use NAT64 (64:ff9b:1::/48)"),
	blocked("100::/64", "is discard-only (100::/64)"),
	blocked("2001::/23", "is reserved for IETF protocol assignments (2001::/23)"),
	blocked("2001:db8::/32", "is reserved for documentation (2001:db8::/32)"),
	blocked("fc00::/7", "is unique-local (fc00::/7)"),
	blocked("fe80::/10", "is link-local (fe80::/10)"),
	blocked("fec0::/10", "is deprecated site-local (fec0::/10)"),
	blocked("ff00::/8", "is multicast (ff00::/8)"),
}

var (
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
)

// PublicOnly is the default address policy of webhooks: it returns nil for
// a public unicast address and an *AddressError for any other. IPv4-mapped
// IPv6 addresses are checked as IPv4; NAT64 (64:ff9b::/96) and 6to4
// (2002::/16) addresses by the IPv4 address they embed. The port is not
// checked.
func PublicOnly(ap netip.AddrPort) error {
	if reason := forbiddenReason(ap.Addr()); reason != "" {
		return &AddressError{Addr: ap, Reason: reason}
	}
	return nil
}

// forbiddenReason says why a is not public, or "" when it is.
func forbiddenReason(a netip.Addr) string {
	if !a.IsValid() {
		return "is not a valid address"
	}
	a = a.WithZone("").Unmap()
	for _, r := range blockedRanges {
		if r.prefix.Contains(a) {
			return r.reason
		}
	}
	if a.Is6() {
		b := a.As16()
		var embedded netip.Addr
		switch {
		case nat64Prefix.Contains(a):
			embedded = netip.AddrFrom4([4]byte(b[12:16]))
		case sixToFour.Contains(a):
			embedded = netip.AddrFrom4([4]byte(b[2:6]))
		}
		if embedded.IsValid() {
			if reason := forbiddenReason(embedded); reason != "" {
				return "embeds " + embedded.String() + ", which " + reason
			}
		}
	}
	return ""
}
