// The chat page: everything it shows comes through the mizan runtime.
//
// Contexts "global", "rooms" and "user" arrive hydrated in the HTML and are refetched by the
// runtime when the server invalidates them. The open room is two subscriptions (its
// messages, and who is typing, whose presence roster says who has the room open); its
// history is fetched after subscribing and again on every resync, and messages are merged by
// id, so the overlap of history and live pushes shows each message once.
//
// Signing out is allauth's flow as a server function (`auth.sign_out`). Every other tab of the
// session follows on its own: its socket turns anonymous, its subscriptions end, and its
// "global" context is refetched, whose `auth.session` then sends the tab to the login page.

import { InvalidParamsError, Mizan } from "../mizan_channels/mizan.js";

const $ = (selector) => document.querySelector(selector);
const mizan = new Mizan({ prefix: document.body.dataset.mizanPrefix || "/api/mizan/" });
// For the console and the end-to-end tests: the client, and the open room's state.
window.chat = { mizan, room: () => current };

const status = $("#status");
const LABELS = { connecting: "connecting…", open: "live", reconnecting: "reconnecting…", closed: "offline" };
mizan.onState((state) => {
  status.dataset.state = state;
  status.dataset.connections = String(mizan.connections);
  status.textContent = LABELS[state] ?? state;
});

const me = mizan.context("global");
let leaving = false;
me.subscribe((data) => {
  const session = data["auth.session"];
  if (session && !session.authenticated) return toLogin();
  $("#me").textContent = data.current_user ? data.current_user.username : "nobody";
});

function toLogin() {
  if (leaving) return;
  leaving = true;
  const next = `/${location.hash}`;
  location.assign(`${document.body.dataset.loginUrl || "/login/"}?next=${encodeURIComponent(next)}`);
}

$("#logout").addEventListener("submit", async (event) => {
  event.preventDefault();
  leaving = true; // this tab goes to the login page itself, without a `next`
  try {
    await mizan.http("auth.sign_out");
  } catch (err) {
    // Signed out or not, the login page is where this ends; tell the console why.
    console.warn("sign-out failed:", err);
  }
  location.assign(document.body.dataset.loginUrl || "/login/");
});

// Rooms: the shared public list plus the restricted rooms this user belongs to.
const publicRooms = mizan.context("rooms");
const myRooms = mizan.context("user");
let current = null;

function renderRooms() {
  const rooms = [...(publicRooms.get("room_list") ?? []), ...(myRooms.get("my_rooms") ?? [])];
  const list = $("#rooms");
  list.replaceChildren(
    ...rooms.map((room) => {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = `#${room.slug}`;
      a.dataset.slug = room.slug;
      a.className = room.slug === current?.slug ? "active" : "";
      const title = document.createElement("span");
      title.className = "title";
      title.textContent = `# ${room.title}`;
      if (room.restricted) {
        const tag = document.createElement("span");
        tag.className = "tag";
        tag.textContent = "members";
        title.append(tag);
      }
      const count = document.createElement("span");
      count.className = "count";
      count.textContent = String(room.messages);
      a.append(title, count);
      li.append(a);
      return li;
    }),
  );
  const known = rooms.find((r) => r.slug === current?.slug);
  if (known) $("#room-title").textContent = known.title;
}
publicRooms.subscribe(renderRooms);
myRooms.subscribe(renderRooms);

// The open room --------------------------------------------------------------------------

function formatTime(iso) {
  const d = new Date(iso);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function addMessage(state, m) {
  if (state !== current || state.seen.has(m.id)) return;
  state.seen.add(m.id);
  const li = document.createElement("li");
  li.dataset.id = String(m.id);
  li.dataset.user = m.user;
  if (m.user === me.get("current_user")?.username) li.className = "mine";
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = m.user;
  const when = document.createElement("time");
  when.dateTime = m.created;
  when.textContent = formatTime(m.created);
  const text = document.createElement("p");
  text.className = "text";
  text.textContent = m.text;
  li.append(who, when, text);
  // Keep id order: a push can overtake the history reply that holds older messages.
  const list = $("#messages");
  const after = [...list.children].find((el) => Number(el.dataset.id) > m.id);
  list.insertBefore(li, after ?? null);
  if (!after) li.scrollIntoView({ block: "end" });
}

async function loadHistory(state) {
  try {
    const messages = await mizan.call("room_messages", { room: state.slug });
    for (const m of messages) addMessage(state, m);
  } catch (err) {
    showRoomError(state, err);
  }
}

function showRoomError(state, err) {
  if (state !== current) return;
  const box = $("#room-error");
  box.hidden = false;
  box.dataset.code = err.code ?? "";
  box.textContent =
    err.code === "forbidden" ? "This room does not exist, or is not open to you." : `Error: ${err.message}`;
}

function renderOnline(state, roster) {
  if (state !== current) return;
  // One entry per user, however many tabs they have open; the metadata is {id, username}.
  const names = Object.values(roster ?? {})
    .map((connections) => Object.values(connections)[0]?.username)
    .filter(Boolean)
    .sort();
  const online = $("#online");
  online.dataset.users = names.join(",");
  online.textContent = names.length ? `online: ${names.join(", ")}` : "";
}

function renderTyping(state) {
  const names = [...state.typers.keys()];
  $("#typing").textContent = names.length ? `${names.join(", ")} ${names.length > 1 ? "are" : "is"} typing…` : "\u00a0";
}

function openRoom(slug) {
  if (current?.slug === slug) return;
  if (current) {
    current.messages.unsubscribe();
    current.typing.unsubscribe();
    for (const timer of current.typers.values()) clearTimeout(timer);
  }
  const state = { slug, seen: new Set(), typers: new Map() };
  current = state;
  $("#messages").replaceChildren();
  $("#room-error").hidden = true;
  $("#room-title").textContent = slug;
  renderOnline(state, null);
  renderTyping(state);
  renderRooms();
  state.messages = mizan.subscribe(
    "chat",
    { room: slug },
    {
      onMessage: (m) => addMessage(state, m),
      onResync: () => loadHistory(state), // something may be missing: fetch what is there
      onEnd: (reason) => {
        showRoomError(state, { code: "forbidden" });
        // Ended because this socket is no longer signed in (signed out in another tab): ask
        // who we are now, which sends the page to the login form.
        if (reason === "unauthorized") me.refresh().catch(() => {});
      },
      onError: (err) => showRoomError(state, err),
    },
  );
  state.typing = mizan.subscribe(
    "typing",
    { room: slug },
    {
      onMessage: ({ user, typing }) => {
        if (user === me.get("current_user")?.username) return;
        clearTimeout(state.typers.get(user));
        if (typing) state.typers.set(user, setTimeout(() => (state.typers.delete(user), renderTyping(state)), 5000));
        else state.typers.delete(user);
        renderTyping(state);
      },
      onPresence: (roster) => renderOnline(state, roster),
      onEnd: () => renderOnline(state, null),
      onError: () => {},
    },
  );
  // Subscribe first, then read the history: nothing posted in between is missed.
  state.messages.ready.then(() => loadHistory(state), () => {});
}

function roomFromHash() {
  return decodeURIComponent(location.hash.slice(1)) || "lobby";
}
window.addEventListener("hashchange", () => openRoom(roomFromHash()));
openRoom(roomFromHash());

// Posting and typing ---------------------------------------------------------------------

const compose = $("#compose");
const composeText = compose.elements.namedItem("text");
let typingSent = 0;
let typingIdle = null;

function sendTyping(typing) {
  current?.typing.send({ typing }).catch(() => {});
}

composeText.addEventListener("input", () => {
  const now = Date.now();
  if (now - typingSent > 2000) {
    typingSent = now;
    sendTyping(true);
  }
  clearTimeout(typingIdle);
  typingIdle = setTimeout(() => {
    typingSent = 0;
    sendTyping(false);
  }, 3000);
});

compose.addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = composeText.value;
  const box = $("#compose-error");
  box.hidden = true;
  try {
    const message = await mizan.call("post_message", { room: current.slug, text });
    addMessage(current, message);
    composeText.value = "";
    clearTimeout(typingIdle);
    typingSent = 0;
    sendTyping(false);
  } catch (err) {
    box.hidden = false;
    box.dataset.code = err.code ?? "";
    box.textContent =
      err instanceof InvalidParamsError ? "A message needs 1 to 2000 characters." : `Not sent: ${err.message}`;
  }
});

// The Django form, submitted through mizan (HTTP, with the CSRF token) ---------------------

const roomForm = $("#room-form");
// Not `roomForm.title`: that is the element's title attribute, not the input named "title".
const roomTitle = roomForm.elements.namedItem("title");
roomForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const errors = roomForm.querySelector(".errorlist[data-for=title]");
  errors.replaceChildren();
  try {
    const room = await mizan.http("create_room.submit", { title: roomTitle.value });
    roomForm.reset();
    location.hash = room.slug;
  } catch (err) {
    const details = err instanceof InvalidParamsError && Array.isArray(err.details) ? err.details : [{ msg: err.message }];
    errors.replaceChildren(
      ...details.map((d) => {
        const li = document.createElement("li");
        li.textContent = d.msg;
        return li;
      }),
    );
  }
});
