// NHS.UK frontend components need starting: the error summary takes focus on a page that shows one (so a
// screen reader announces it and the keyboard starts there), and its links move focus to the field.
import { initAll } from "/assets/nhsuk-frontend.min.js";

initAll();

// Show follow-up questions as soon as an answer makes them apply. The server decides which apply (the same
// engine that validates the checklist), so the page never disagrees with what will be accepted.
// data-state on the form is "pending" while an answer is being checked, "ready" once the page is up to date.
const form = document.getElementById("checklist");
let used = () => {}; // the sign-in was used just now: see the idle warning below

if (form) {
  let timer = null;
  let latest = 0; // only the answer given last decides what is shown, however the requests race
  const refresh = async (mine) => {
    try {
      const response = await fetch(form.getAttribute("action") + "/enabled", { method: "POST", body: new FormData(form) });
      if (response.ok && !response.redirected) {
        used();
        const on = new Set((await response.json()).enabled);
        if (mine === latest) {
          for (const el of form.querySelectorAll("[data-path]")) el.hidden = !on.has(el.dataset.path);
        }
      }
    } finally {
      if (mine === latest) form.dataset.state = "ready";
    }
  };
  form.dataset.state = "ready";
  // Typing counts too, not only leaving the field: a follow-up that a text answer opens (a name that asks for the
  // time signed) appears before Tab moves on, so the keyboard reaches it instead of passing it by.
  const answered = () => {
    const mine = ++latest;
    form.dataset.state = "pending";
    clearTimeout(timer);
    timer = setTimeout(() => refresh(mine), 150);
  };
  form.addEventListener("input", answered);
  form.addEventListener("change", answered);
}

// Two minutes before NeoSafe would sign the user out for not being used (NEOSAFE_SESSION_IDLE_MINUTES), say so, with
// a button to stay signed in. Every answer checked with the server counts as use, and so does the button. Signed out
// anyway, the answers on the page are not lost: Save keeps them for the same user to sign in again and finish.
const warning = document.getElementById("idle-warning");
if (form && warning && typeof warning.showModal === "function") {
  const button = warning.querySelector("[data-testid=stay-signed-in]");
  const idleMs = Number(form.dataset.idleSeconds) * 1000;
  let timer = null;
  let signedOut = false;
  used = () => {
    clearTimeout(timer);
    timer = setTimeout(() => warning.open || warning.showModal(), Math.max(idleMs - 120_000, 0));
  };
  button.addEventListener("click", async () => {
    if (signedOut) return warning.close();
    const body = new FormData();
    body.append("csrf", form.elements.namedItem("csrf").value);
    const response = await fetch("/session/keep-alive", { method: "POST", body, redirect: "manual" }).catch(() => null);
    if (response && response.ok) {
      warning.close();
      used();
    } else {
      signedOut = true;
      for (const p of warning.querySelectorAll("[data-when]")) p.hidden = p.dataset.when !== "signed-out";
      button.textContent = "Back to the checklist";
    }
  });
  used();
}
