package authn

import (
	"context"
	"time"
)

// Notice letter kinds: what a notice letter tells of.
const (
	NoticeReset       = "reset"        // IT reset her factors
	NoticeFactorAdded = "factor_added" // a key or app was added
)

// NoticeLetter is a notice that goes to a person by post: she has no
// e-mail address, or the mail failed. Its "this was not me" link is made
// when it is printed (a new FreezeToken), so the store holds no secret.
type NoticeLetter struct {
	ID        string
	UserID    string
	Kind      string    // NoticeReset, NoticeFactorAdded
	Detail    string    // the factor's label for NoticeFactorAdded
	CreatedAt time.Time // when it happened
	PrintedAt time.Time // zero until printed
}

// NoticeLetterStore keeps the notice letters still to be printed.
type NoticeLetterStore interface {
	// QueueNoticeLetter stores l, unprinted. ErrNotFound if her person is
	// unknown.
	QueueNoticeLetter(ctx context.Context, l NoticeLetter) error
	// UnprintedNoticeLetters lists the letters not yet printed, oldest
	// first.
	UnprintedNoticeLetters(ctx context.Context) ([]NoticeLetter, error)
	// MarkNoticeLettersPrinted claims the letters of events (by letter
	// ID) that are still unprinted: it marks each printed at at and
	// appends its event, in one transaction, and returns the IDs it
	// claimed, in the order of ids. A letter printed already is skipped,
	// so of two printings at once each letter goes to one of them.
	MarkNoticeLettersPrinted(ctx context.Context, ids []string, at time.Time, events map[string]AuditEvent) ([]string, error)
}
