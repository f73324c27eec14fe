package server

import (
	"context"

	"beacon/server/auth"
	"beacon/server/store"
)

// Admin is the command line's handle on a data directory: the accounts
// service the server uses, over the same store, without serving. It is
// safe to use while `beacon serve` runs on the same directory.
type Admin struct {
	*auth.Accounts
	st *store.Store
}

// OpenAdmin opens the data directory's store (applying migrations).
func OpenAdmin(ctx context.Context, dataDir string) (*Admin, error) {
	st, err := store.Open(ctx, dataDir)
	if err != nil {
		return nil, err
	}
	return &Admin{Accounts: auth.NewAccounts(st), st: st}, nil
}

// Close closes the store.
func (a *Admin) Close() error { return a.st.Close() }
