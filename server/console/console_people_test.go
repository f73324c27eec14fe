package console_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"beacon/server/console/consoletest"
	"beacon/server/servertest"
)

// TestConsolePeople: an admin adds a person with a role (the generated
// password is shown once and signs in), sees a taken name refused beside
// the field, resets the password, disables the account, and creates and
// revokes an API token — all through the page, checked through the API.
func TestConsolePeople(t *testing.T) {
	env := consoletest.Start(t, servertest.Options{})
	b := env.Browser(consoletest.Desktop)
	b.SignIn(consoletest.Admin, "vi")
	b.Open("#/people")
	b.Axe()

	// Add "thu" as a viewer, with a generated password.
	b.Do("add a person",
		chromedp.SendKeys(chromedp.CSS(`#add-user input[name="username"]`), "thu"),
		chromedp.SetValue(chromedp.CSS(`#add-user select[name="role"]`), "viewer"),
		chromedp.Click(chromedp.CSS(`#add-user button[type="submit"]`)))
	b.WaitJS("the password dialog", `!!document.querySelector('dialog[open] [data-secret]')`)
	b.Axe()
	b.Screenshot("people-password", "vi")
	password := consoletest.Eval[string](b, `document.querySelector('dialog[open] [data-secret]').textContent`)
	b.Do("close", chromedp.Click(chromedp.CSS(`dialog[open] .btn-primary`)))
	b.WaitJS("the new row", `!!document.querySelector('#users tr[data-user="thu"]')`)
	var users struct {
		Users []struct {
			ID, Username, Role string
			DisabledAt         *string `json:"disabled_at"`
		}
	}
	env.Do("GET", "/api/v1/users", nil, &users)
	thuID := ""
	for _, u := range users.Users {
		if u.Username == "thu" {
			thuID = u.ID
			if u.Role != "viewer" {
				t.Errorf("thu has role %q", u.Role)
			}
		}
	}
	if thuID == "" {
		t.Fatalf("thu is not in the API's list: %+v", users)
	}
	if code := env.DoToken("", "POST", "/api/v1/auth/login", map[string]string{"username": "thu", "password": password}, nil); code != 201 {
		t.Fatalf("the shown password does not sign in: %d", code)
	}

	// A taken name: the message is beside the user name, in Vietnamese.
	b.Do("add thu again",
		chromedp.SendKeys(chromedp.CSS(`#add-user input[name="username"]`), "thu"),
		chromedp.Click(chromedp.CSS(`#add-user button[type="submit"]`)))
	b.WaitJS("the error beside the user name", `(() => { const i = document.querySelector('#add-user input[name="username"]');
		const e = i.closest('.field').querySelector('.field-error'); return !!e && i.getAttribute('aria-invalid') === 'true' && e.textContent.includes('đã có người dùng'); })()`)
	b.Axe()
	b.Screenshot("people-error", "vi")

	// Reset thu's password (generated), then the old one fails.
	b.Do("reset", chromedp.Click(chromedp.CSS(`#users tr[data-user="thu"] [data-action="reset"]`)))
	b.WaitJS("the reset dialog", `!!document.querySelector('dialog[open] form')`)
	b.Axe()
	b.Do("confirm reset", chromedp.Click(chromedp.CSS(`dialog[open] form button[type="submit"]`)))
	b.WaitJS("the new password", `!!document.querySelector('dialog[open] [data-secret]')`)
	newPassword := consoletest.Eval[string](b, `document.querySelector('dialog[open] [data-secret]').textContent`)
	b.Do("close", chromedp.Click(chromedp.CSS(`dialog[open] .btn-primary`)))
	if newPassword == password {
		t.Fatal("reset showed the old password")
	}
	if code := env.DoToken("", "POST", "/api/v1/auth/login", map[string]string{"username": "thu", "password": password}, nil); code != 401 {
		t.Errorf("old password after reset: %d", code)
	}
	if code := env.DoToken("", "POST", "/api/v1/auth/login", map[string]string{"username": "thu", "password": newPassword}, nil); code != 201 {
		t.Errorf("new password: %d", code)
	}

	// Disable thu (after a confirmation).
	b.Do("disable", chromedp.Click(chromedp.CSS(`#users tr[data-user="thu"] [data-action="disable"]`)))
	b.WaitJS("the confirmation", `!!document.querySelector('dialog[open] [data-confirm]')`)
	b.Axe()
	b.Do("confirm", chromedp.Click(chromedp.CSS(`dialog[open] [data-confirm]`)))
	b.WaitJS("thu disabled", `!!document.querySelector('#users tr[data-user="thu"] [data-action="enable"]')`)
	env.Do("GET", "/api/v1/users", nil, &users)
	for _, u := range users.Users {
		if u.Username == "thu" && u.DisabledAt == nil {
			t.Error("the API does not show thu disabled")
		}
	}
	if code := env.DoToken("", "POST", "/api/v1/auth/login", map[string]string{"username": "thu", "password": newPassword}, nil); code != 401 {
		t.Errorf("disabled account signs in: %d", code)
	}

	// Create an API token; it works; revoke it; it stops.
	b.Do("new token",
		chromedp.SendKeys(chromedp.CSS(`#add-token input[name="name"]`), "bảng tin sảnh"),
		chromedp.Click(chromedp.CSS(`#add-token button[type="submit"]`)))
	b.WaitJS("the token dialog", `!!document.querySelector('dialog[open] [data-secret]')`)
	token := consoletest.Eval[string](b, `document.querySelector('dialog[open] [data-secret]').textContent`)
	b.Do("close", chromedp.Click(chromedp.CSS(`dialog[open] .btn-primary`)))
	if code := env.DoToken(token, "GET", "/api/v1/displays", nil, nil); code != http.StatusOK {
		t.Fatalf("the new token: %d", code)
	}
	b.WaitJS("the token's row", `[...document.querySelectorAll('#tokens tr')].some(r => r.textContent.includes('bảng tin sảnh'))`)
	b.Screenshot("people", "vi")
	b.Do("revoke", chromedp.Click(chromedp.CSS(`#tokens tr[data-token] [data-action="revoke"]`), chromedp.NodeVisible))
	// The first row is the newest token: the one just made.
	b.WaitJS("the confirmation", `!!document.querySelector('dialog[open] [data-confirm]')`)
	if txt := consoletest.Eval[string](b, `document.querySelector('dialog[open]').textContent`); !strings.Contains(txt, "bảng tin sảnh") {
		t.Fatalf("revoking another token: %s", txt)
	}
	b.Do("confirm", chromedp.Click(chromedp.CSS(`dialog[open] [data-confirm]`)))
	b.WaitJS("the row gone", `![...document.querySelectorAll('#tokens tr')].some(r => r.textContent.includes('bảng tin sảnh'))`)
	if code := env.DoToken(token, "GET", "/api/v1/displays", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("revoked token: %d", code)
	}
	b.CheckCatalogue("people (vi)")

	// English.
	b.SetLanguage("en")
	b.Open("#/people")
	b.CheckCatalogue("people (en)")
	b.Axe()
	b.Screenshot("people", "en")

	// An editor is refused the page and the API.
	e := env.Browser(consoletest.Desktop)
	e.SignIn(consoletest.Editor, "en")
	e.Open("#/people")
	if !consoletest.Eval[bool](e, `!!document.querySelector('main .notice') && !document.querySelector('#users')`) {
		t.Error("an editor sees the people page")
	}
	if status, _ := e.API("GET", "/users", nil); status != 403 {
		t.Errorf("editor GET /users: %d", status)
	}
}
