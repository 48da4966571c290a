// The login page: signs in by calling allauth's flow as a server function.
//
// Over HTTP, not the socket: Django gives the session a new key when a user signs in, and only
// an HTTP response can hand the browser its new cookie (docs/allauth.md). A wrong password and
// an unknown user are the same `invalid_params`; too many attempts are `rate_limited`.

import { InvalidParamsError, Mizan, RateLimitedError } from "../mizan_channels/mizan.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");
const button = form.querySelector("button[type=submit]");
// HTTP calls only: this page has nothing to subscribe to, so it opens no socket.
const mizan = new Mizan({ prefix: document.body.dataset.mizanPrefix || "/api/mizan/", connect: false });

function show(message, code) {
  error.hidden = false;
  error.dataset.code = code ?? "";
  error.textContent = message;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const login = form.elements.namedItem("username").value.trim();
  const password = form.elements.namedItem("password").value;
  if (!login || !password) return show("Enter your username and password.", "missing");
  error.hidden = true;
  button.disabled = true;
  try {
    const session = await mizan.http("auth.sign_in", { login, password });
    if (!session.authenticated) return show("Check your inbox to verify your address first.", session.pending);
    location.assign(document.body.dataset.next || "/");
  } catch (err) {
    if (err instanceof InvalidParamsError || err instanceof RateLimitedError) show(err.message, err.code);
    else show(`Could not sign in: ${err.message}`, err.code);
  } finally {
    button.disabled = false;
  }
});
