// Show follow-up questions as soon as an answer makes them apply. The server decides which apply (the same
// engine that validates the checklist), so the page never disagrees with what will be accepted.
const form = document.getElementById("checklist");
if (form) {
  let pending = null;
  const refresh = async () => {
    const response = await fetch(form.action + "/enabled", { method: "POST", body: new FormData(form) });
    if (!response.ok) return;
    const { enabled } = await response.json();
    const on = new Set(enabled);
    for (const el of form.querySelectorAll("[data-path]")) el.hidden = !on.has(el.dataset.path);
  };
  form.addEventListener("change", () => {
    clearTimeout(pending);
    pending = setTimeout(refresh, 150);
  });
}
