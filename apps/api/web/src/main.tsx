import "./styles.css";
import { render } from "preact";
import { useState } from "preact/hooks";
import { api, session } from "./api.js";
import { Batches } from "./batches.js";
import { Export } from "./export.js";
import { Models } from "./models.js";
import { Posts } from "./posts.js";
import { Review } from "./review.js";
import { href, type Route, useRoute } from "./router.js";

/** The key is asked once per browser session and kept in sessionStorage: never in a URL, gone with the tab. */
function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [error, setError] = useState("");
  return (
    <main class="signin">
      <h1>lxtag review desk</h1>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          const form = new FormData(e.currentTarget);
          session.signIn(String(form.get("key")).trim(), String(form.get("reviewer")).trim());
          try {
            await api("/v1/batches?limit=1");
            onSignedIn();
          } catch (err) {
            session.signOut();
            setError((err as Error).message);
          }
        }}
      >
        <label for="api-key">API key</label>
        <input id="api-key" name="key" type="password" autocomplete="off" required />
        <label for="reviewer">Your name (stored with each correction)</label>
        <input id="reviewer" name="reviewer" autocomplete="name" defaultValue={session.reviewer()} />
        <button type="submit">Open the desk</button>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}

function Screen({ route }: { route: Route }) {
  const [first, second] = route.parts;
  if (first === "batches" && second) return <Posts route={route} />;
  if (first === "review" && second) return <Review route={route} />;
  if (first === "models") return <Models />;
  if (first === "export") return <Export />;
  return <Batches />;
}

function App() {
  const route = useRoute();
  const [signedIn, setSignedIn] = useState(Boolean(session.key()));
  if (!signedIn || !session.key()) return <SignIn onSignedIn={() => setSignedIn(true)} />;
  const at = route.parts[0] ?? "batches";
  const link = (to: string, label: string, active: boolean) => (
    <a href={href(to)} aria-current={active ? "page" : undefined}>
      {label}
    </a>
  );
  return (
    <>
      <header class="top">
        <span class="brand">lxtag review desk</span>
        <nav aria-label="main">
          {link("/batches", "Batches", at === "batches" || at === "review")}
          {link("/models", "Models", at === "models")}
          {link("/export", "Export", at === "export")}
        </nav>
        <button
          type="button"
          class="link"
          onClick={() => {
            session.signOut();
            setSignedIn(false);
          }}
        >
          Sign out
        </button>
      </header>
      <Screen route={route} />
    </>
  );
}

render(<App />, document.getElementById("app")!);
