// Package enroll brings people to their first factors: invitations (a
// secret link, bound to one person, single use, expiring), and, for a new
// installation, the bootstrap invitation for the first administrator.
//
// It knows nothing of HTTP. Links are built from the configured public URL
// only, never from a request.
package enroll
