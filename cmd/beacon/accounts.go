package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"beacon/server"
	"beacon/server/auth"
	"beacon/server/store"
)

// stdin is where --password-stdin reads from (tests replace it).
var stdin io.Reader = os.Stdin

// parseFlags parses args, allowing flags after positional arguments
// ("beacon token revoke tok_x --data DIR").
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func openAdmin(data string) (*server.Admin, error) {
	return server.OpenAdmin(context.Background(), data)
}

func tokenCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: beacon token create|list|revoke --data DIR …")
	}
	switch args[0] {
	case "create":
		return tokenCreate(args[1:], stdout, stderr)
	case "list":
		return tokenList(args[1:], stdout)
	case "revoke":
		return tokenRevoke(args[1:], stdout)
	}
	return fmt.Errorf("unknown token command %q: use create, list or revoke", args[0])
}

func tokenCreate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token create", flag.ContinueOnError)
	data := fs.String("data", "./data", "data directory")
	role := fs.String("role", store.RoleAdmin, "admin, editor, viewer or authority")
	name := fs.String("name", "", "what the token is for (required)")
	orgID := fs.String("org", "", "organisation id (default: the only organisation)")
	orgName := fs.String("org-name", "", "name of the first organisation, made when the data directory has none (default Beacon)")
	ttl := fs.String("ttl", "", "lifetime such as 90m, 12h or 30d (default: does not expire)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return errors.New("--name is required")
	}
	life, err := auth.ParseTTL(*ttl)
	if err != nil {
		return err
	}
	a, err := openAdmin(*data)
	if err != nil {
		return err
	}
	defer a.Close()
	ctx := context.Background()
	org, created, err := a.ResolveOrg(ctx, *orgID, *orgName)
	if err != nil {
		return err
	}
	t, err := a.CreateToken(ctx, org.ID, *name, *role, life)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(stderr, "beacon: created the first organisation %q (%s)\n", org.Name, org.ID)
	}
	if !t.ExpiresAt.IsZero() {
		fmt.Fprintf(stderr, "beacon: token %s expires at %s\n", t.ID, t.ExpiresAt.Format(time.RFC3339))
	}
	fmt.Fprintln(stdout, t.Secret)
	return nil
}

func orgFlags(fs *flag.FlagSet) (data, orgID *string) {
	return fs.String("data", "./data", "data directory"), fs.String("org", "", "organisation id (default: the only organisation)")
}

// resolveExisting picks the organisation a command means, never making one.
func resolveExisting(a *server.Admin, orgID string) (store.Org, error) {
	orgs, err := a.Orgs(context.Background())
	if err != nil {
		return store.Org{}, err
	}
	if len(orgs) == 0 {
		return store.Org{}, errors.New("no organisation yet: `beacon token create` or `beacon org create` makes the first")
	}
	org, _, err := a.ResolveOrg(context.Background(), orgID, "")
	return org, err
}

func tokenList(args []string, stdout io.Writer) error {
	return onOrg("token list", args, func(a *server.Admin, org store.Org) error {
		list, err := a.Tokens(context.Background(), org.ID)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tKIND\tROLE\tNAME\tCREATED\tEXPIRES\tLAST USED")
		for _, t := range list {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Kind, t.Role, t.Name, when(t.CreatedAt), whenOr(t.ExpiresAt, "never"), whenOr(t.LastUsedAt, "never"))
		}
		return w.Flush()
	})
}

// onOrg runs a command that takes --data and --org (the only organisation
// when there is one).
func onOrg(name string, args []string, fn func(a *server.Admin, org store.Org) error) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	data, orgID := orgFlags(fs)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	a, err := openAdmin(*data)
	if err != nil {
		return err
	}
	defer a.Close()
	org, err := resolveExisting(a, *orgID)
	if err != nil {
		return err
	}
	return fn(a, org)
}

func when(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") }

func whenOr(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return when(t)
}

func tokenRevoke(args []string, stdout io.Writer) error {
	return onOne("token revoke", "usage: beacon token revoke --data DIR TOKEN_ID (see `beacon token list`)", args,
		func(a *server.Admin, id string) error {
			t, err := a.RevokeToken(context.Background(), "", id)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no live token %s (see `beacon token list`)", id)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "revoked %s (%s)\n", t.ID, t.Name)
			return nil
		})
}

// onOne runs a command that takes --data and one argument.
func onOne(name, usage string, args []string, fn func(a *server.Admin, arg string) error) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	data := fs.String("data", "./data", "data directory")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New(usage)
	}
	a, err := openAdmin(*data)
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(a, pos[0])
}

func orgCmd(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: beacon org create|list --data DIR …")
	}
	fs := flag.NewFlagSet("org "+args[0], flag.ContinueOnError)
	data := fs.String("data", "./data", "data directory")
	var name *string
	switch args[0] {
	case "create":
		name = fs.String("name", "", "organisation name (required)")
	case "list":
	default:
		return fmt.Errorf("unknown org command %q: use create or list", args[0])
	}
	if _, err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	a, err := openAdmin(*data)
	if err != nil {
		return err
	}
	defer a.Close()
	ctx := context.Background()
	if name != nil {
		o, err := a.CreateOrg(ctx, *name)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, o.ID)
		return nil
	}
	orgs, err := a.Orgs(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME")
	for _, o := range orgs {
		fmt.Fprintf(w, "%s\t%s\n", o.ID, o.Name)
	}
	return w.Flush()
}

func userCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: beacon user create|list|disable --data DIR …")
	}
	switch args[0] {
	case "create":
		return userCreate(args[1:], stdout, stderr)
	case "list":
		return userList(args[1:], stdout)
	case "disable":
		return userDisable(args[1:], stdout)
	}
	return fmt.Errorf("unknown user command %q: use create, list or disable", args[0])
}

func userCreate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user create", flag.ContinueOnError)
	data, orgID := orgFlags(fs)
	name := fs.String("name", "", "user name (required)")
	role := fs.String("role", store.RoleEditor, "admin, editor, viewer or authority")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input instead of generating one")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return errors.New("--name is required")
	}
	password := ""
	if *fromStdin {
		line, err := bufio.NewReaderSize(stdin, 4096).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read password: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
		if password == "" {
			return errors.New("--password-stdin: standard input held no password")
		}
	}
	a, err := openAdmin(*data)
	if err != nil {
		return err
	}
	defer a.Close()
	org, err := resolveExisting(a, *orgID)
	if err != nil {
		return err
	}
	u, pw, err := a.CreateUser(context.Background(), org.ID, *name, *role, password)
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("user name %q is taken", *name)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "beacon: created %s user %q (%s) in %s\n", u.Role, u.Username, u.ID, org.Name)
	if password == "" {
		fmt.Fprintf(stderr, "beacon: the password is shown once; keep it\n")
		fmt.Fprintln(stdout, pw)
	}
	return nil
}

func userList(args []string, stdout io.Writer) error {
	return onOrg("user list", args, func(a *server.Admin, org store.Org) error {
		users, err := a.Users(context.Background(), org.ID)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tUSER\tROLE\tCREATED\tSTATE")
		for _, u := range users {
			state := "enabled"
			if !u.DisabledAt.IsZero() {
				state = "disabled " + when(u.DisabledAt)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", u.ID, u.Username, u.Role, when(u.CreatedAt), state)
		}
		return w.Flush()
	})
}

func userDisable(args []string, stdout io.Writer) error {
	return onOne("user disable", "usage: beacon user disable --data DIR USER (a user name or id)", args,
		func(a *server.Admin, name string) error {
			u, err := a.DisableUser(context.Background(), "", name)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no user %q (see `beacon user list`)", name)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "disabled %s (%s); its sessions and tokens are revoked\n", u.Username, u.ID)
			return nil
		})
}
