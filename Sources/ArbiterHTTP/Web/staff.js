// What the staff's pages (the agent console and the dashboard) share: the login to a server that
// requires credentials (POST /v1/session, docs/http-api.md#login-sessions). Loaded before each
// page's own script; defines window.arbiterStaff.
"use strict";

window.arbiterStaff = {
  // Exchanges an access key for the session cookie; throws an Error with the server's reason.
  async logIn(api, key) {
    const response = await fetch(api + "/v1/session", {
      method: "POST",
      cache: "no-store",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ credential: key }),
    });
    if (!response.ok) throw new Error(await this.reason(response));
    return response.json();
  },

  // The message of an error answer (its JSON's `message`), or the status text.
  async reason(response) {
    try {
      return (await response.json()).message || response.statusText;
    } catch (error) {
      return response.statusText; // not JSON
    }
  },
};
