// NHS.UK frontend components need starting: the error summary takes focus on a page that shows one (so a
// screen reader announces it and the keyboard starts there), and its links move focus to the field.
import { initAll } from "/assets/nhsuk-frontend.min.js";

initAll();

// Show follow-up questions as soon as an answer makes them apply. The server decides which apply (the same
// engine that validates the checklist), so the page never disagrees with what will be accepted.
// data-state on the form is "pending" while an answer is being checked, "ready" once the page is up to date.
const form = document.getElementById("checklist");
if (form) {
  let timer = null;
  let latest = 0; // only the answer given last decides what is shown, however the requests race
  const refresh = async (mine) => {
    try {
      const response = await fetch(form.getAttribute("action") + "/enabled", { method: "POST", body: new FormData(form) });
      if (response.ok) {
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
  form.addEventListener("change", () => {
    const mine = ++latest;
    form.dataset.state = "pending";
    clearTimeout(timer);
    timer = setTimeout(() => refresh(mine), 150);
  });
}
