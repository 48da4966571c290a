// The chat again, in React, written against the client generated from the example's IR
// (`manage.py generate_mizan_client --out example_chat/react/api`). Nothing here is typed by
// hand: rooms, messages, the presence roster and the form's fields all come from ./api, so a
// change on the server that breaks this page fails `tsc` before it reaches a browser.
// Built by example_chat/react/build.py (esbuild), served at /react/ (see ../README.md).

import * as React from "react";
import { createRoot } from "react-dom/client";
import {
  MizanContext,
  type MessageOut,
  type RoomOut,
  useChatChannel,
  useCreateRoomForm,
  useCurrentUser,
  useMizan,
  useMyRooms,
  usePostMessage,
  useRoomList,
  useRoomMessagesQuery,
  useTypingChannel,
} from "./api";

function roomFromHash(): string {
  return decodeURIComponent(window.location.hash.slice(1)) || "lobby";
}

/** The room in the address bar's fragment, so a reload or a link opens the same room. */
function useRoom(): [string, (slug: string) => void] {
  const [room, setRoom] = React.useState(roomFromHash);
  React.useEffect(() => {
    const follow = () => setRoom(roomFromHash());
    window.addEventListener("hashchange", follow);
    return () => window.removeEventListener("hashchange", follow);
  }, []);
  return [room, (slug) => void (window.location.hash = slug)];
}

/** The socket's state, for the header (and for tests, which wait for `open`). */
function ConnectionStatus(): React.ReactElement {
  const mizan = useMizan();
  const [state, setState] = React.useState(mizan.state);
  React.useEffect(() => mizan.onState((next) => setState(next)), [mizan]);
  return (
    <span id="status" className="status" data-state={state}>
      {state}
    </span>
  );
}

function RoomLink(props: { room: RoomOut; active: boolean }): React.ReactElement {
  const { room, active } = props;
  return (
    <li>
      <a href={`#${room.slug}`} data-slug={room.slug} className={active ? "active" : ""}>
        <span className="title">{room.title}</span>
        {room.restricted ? <span className="tag">members</span> : null}
        <span className="count">{room.messages}</span>
      </a>
    </li>
  );
}

/** The "rooms" (shared) and "user" contexts: refetched when a post or a new room invalidates them. */
function Rooms(props: { current: string; onCreated: (slug: string) => void }): React.ReactElement {
  const publicRooms = useRoomList();
  const mine = useMyRooms();
  const form = useCreateRoomForm();
  const rooms = [...(publicRooms.data ?? []), ...(mine.data ?? [])];
  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    const created = await form.submit();
    if (created) {
      form.reset();
      props.onCreated(created.slug);
    }
  };
  return (
    <nav className="side">
      <h2>Rooms</h2>
      <ul id="rooms" className="rooms" data-stale={publicRooms.isStale || mine.isStale}>
        {rooms.map((room) => (
          <RoomLink key={room.slug} room={room} active={room.slug === props.current} />
        ))}
      </ul>
      <form id="room-form" className="room-form" noValidate onSubmit={submit}>
        <h3>{form.info.title}</h3>
        <label htmlFor="room-title-input">{form.info.fields[0]?.label ?? "Title"}</label>
        <input
          id="room-title-input"
          value={form.values.title ?? ""}
          onChange={(event) => form.set("title", event.target.value)}
        />
        <ul className="errorlist" data-for="title">
          {(form.errors["title"] ?? []).map((msg) => (
            <li key={msg}>{msg}</li>
          ))}
        </ul>
        <button type="submit" disabled={form.submitting}>
          {form.info.submitLabel}
        </button>
      </form>
    </nav>
  );
}

/** History first paint (fetched once the channel is open, so nothing falls in between) and
 *  live messages, merged by id. The query refetches by itself after a resync. */
function useMessages(room: string): { messages: MessageOut[]; error: string | null } {
  const live = useChatChannel({ room });
  const history = useRoomMessagesQuery({ room, limit: 50 }, { enabled: live.status === "open" });
  const messages = React.useMemo(() => {
    const byId = new Map<number, MessageOut>();
    for (const m of history.data ?? []) byId.set(m.id, m);
    for (const m of live.messages) if (m.room === room) byId.set(m.id, m);
    return [...byId.values()].sort((a, b) => a.id - b.id);
  }, [history.data, live.messages, room]);
  const error = live.error ?? history.error;
  return { messages, error: error ? error.message : null };
}

/** Who has the room open (the TypingChannel's presence roster) and who is typing. */
function usePeople(room: string, me: string | undefined) {
  const [typing, setTyping] = React.useState<ReadonlySet<string>>(new Set());
  const channel = useTypingChannel(
    { room },
    {
      keep: 0,
      onMessage: ({ user, typing: on }) =>
        setTyping((was) => {
          const next = new Set(was);
          if (on) next.add(user);
          else next.delete(user);
          return next;
        }),
    },
  );
  React.useEffect(() => setTyping(new Set()), [room]);
  // One entry per user, whatever the number of their tabs; each tab's metadata is typed.
  const online = Object.values(channel.roster ?? {})
    .map((tabs) => Object.values(tabs)[0]?.username)
    .filter((name): name is string => name !== undefined)
    .sort();
  const others = [...typing].filter((name) => name !== me).sort();
  return { online, typing: others, send: channel.send };
}

function Room(props: { room: string; me: string | undefined }): React.ReactElement {
  const { room, me } = props;
  const { messages, error } = useMessages(room);
  const people = usePeople(room, me);
  const post = usePostMessage();
  const [text, setText] = React.useState("");
  const send = async (event: React.FormEvent) => {
    event.preventDefault();
    if (!text.trim()) return;
    try {
      await post.mutate({ room, text });
      setText("");
      void people.send({ typing: false }).catch(() => undefined);
    } catch {
      // post.error holds it, shown below.
    }
  };
  const type = (value: string) => {
    setText(value);
    void people.send({ typing: value !== "" }).catch(() => undefined);
  };
  return (
    <main className="room">
      <div className="room-head">
        <h2 id="room-title">{room}</h2>
        <p id="online" className="online" data-users={people.online.join(",")}>
          online: {people.online.join(", ")}
        </p>
      </div>
      {error ? <p id="room-error" className="room-error">{error}</p> : null}
      <ol id="messages" className="messages" aria-live="polite">
        {messages.map((m) => (
          <li key={m.id} data-id={m.id} data-user={m.user} className={m.user === me ? "mine" : ""}>
            <span className="who">{m.user}</span>
            <time dateTime={m.created}>{new Date(m.created).toLocaleTimeString()}</time>
            <p className="text">{m.text}</p>
          </li>
        ))}
      </ol>
      <p id="typing" className="typing">
        {people.typing.length ? `${people.typing.join(", ")} is typing…` : "\u00a0"}
      </p>
      <form id="compose" className="compose" autoComplete="off" onSubmit={send}>
        <input
          name="text"
          placeholder="Write a message…"
          maxLength={2000}
          aria-label="Message"
          value={text}
          onChange={(event) => type(event.target.value)}
        />
        <button type="submit" disabled={post.isPending}>
          Send
        </button>
      </form>
      {post.error ? <p id="compose-error" className="compose-error">{post.error.message}</p> : null}
    </main>
  );
}

function Chat(): React.ReactElement {
  const user = useCurrentUser();
  const [room, setRoom] = useRoom();
  const me = user.data?.username;
  return (
    <>
      <header className="top">
        <h1>mizan chat (React)</h1>
        <ConnectionStatus />
        <span className="me">
          signed in as <strong id="me">{me ?? "…"}</strong>
        </span>
      </header>
      <div className="layout">
        <Rooms current={room} onCreated={setRoom} />
        <Room key={room} room={room} me={me} />
      </div>
    </>
  );
}

function App(): React.ReactElement {
  const [mismatch, setMismatch] = React.useState<string | null>(null);
  const prefix = document.body.dataset["mizanPrefix"] ?? "/api/mizan/";
  return (
    <React.StrictMode>
      <MizanContext baseUrl={prefix} onVersionMismatch={(server) => setMismatch(server)}>
        {mismatch ? (
          <p id="version-mismatch" className="room-error">
            This page was built from another version of the server's API ({mismatch.slice(0, 12)}
            ): rebuild it.
          </p>
        ) : null}
        <Chat />
      </MizanContext>
    </React.StrictMode>
  );
}

const root = document.getElementById("root");
if (!root) throw new Error("The React chat needs a <div id=\"root\"> in its page (chat/react.html).");
createRoot(root).render(<App />);
