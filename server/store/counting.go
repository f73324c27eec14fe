package store

import (
	"context"
	"database/sql/driver"
	"sync/atomic"

	"modernc.org/sqlite"
)

// countingConnector opens SQLite connections that count the statements
// they run (queries, executions and preparations), so that tests and
// benchmarks can prove a request's cost in round trips to the database
// does not grow with the data (see Store.Statements).
type countingConnector struct {
	dsn string
	drv *sqlite.Driver
	n   *atomic.Int64
}

func (c countingConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &countingConn{inner: conn, n: c.n}, nil
}

func (c countingConnector) Driver() driver.Driver { return c.drv }

// sqliteConn is what the SQLite driver's connections offer.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.SessionResetter
	driver.Validator
	driver.Pinger
}

type countingConn struct {
	inner driver.Conn
	n     *atomic.Int64
}

func (c *countingConn) sq() sqliteConn { return c.inner.(sqliteConn) }

func (c *countingConn) Prepare(q string) (driver.Stmt, error) {
	c.n.Add(1)
	return c.inner.Prepare(q)
}
func (c *countingConn) Close() error { return c.inner.Close() }
func (c *countingConn) Begin() (driver.Tx, error) {
	return c.sq().BeginTx(context.Background(), driver.TxOptions{})
}
func (c *countingConn) BeginTx(ctx context.Context, o driver.TxOptions) (driver.Tx, error) {
	return c.sq().BeginTx(ctx, o)
}
func (c *countingConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	c.n.Add(1)
	return c.sq().PrepareContext(ctx, q)
}
func (c *countingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	c.n.Add(1)
	return c.sq().ExecContext(ctx, q, args)
}
func (c *countingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	c.n.Add(1)
	return c.sq().QueryContext(ctx, q, args)
}
func (c *countingConn) ResetSession(ctx context.Context) error { return c.sq().ResetSession(ctx) }
func (c *countingConn) IsValid() bool                          { return c.sq().IsValid() }
func (c *countingConn) Ping(ctx context.Context) error         { return c.sq().Ping(ctx) }

// Statements returns how many SQL statements the store has sent to the
// database since it was opened.
func (s *Store) Statements() int64 { return s.stmts.Load() }
