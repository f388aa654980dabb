// Show follow-up questions as soon as an answer makes them apply. The server decides which apply (the same
// engine that validates the checklist), so the page never disagrees with what will be accepted.
// data-state on the form is "pending" while an answer is being checked, "ready" once the page is up to date.
const form = document.getElementById("checklist");
if (form) {
  let timer = null;
  const refresh = async () => {
    try {
      const response = await fetch(form.action + "/enabled", { method: "POST", body: new FormData(form) });
      if (response.ok) {
        const on = new Set((await response.json()).enabled);
        for (const el of form.querySelectorAll("[data-path]")) el.hidden = !on.has(el.dataset.path);
      }
    } finally {
      form.dataset.state = "ready";
    }
  };
  form.dataset.state = "ready";
  form.addEventListener("change", () => {
    form.dataset.state = "pending";
    clearTimeout(timer);
    timer = setTimeout(refresh, 150);
  });
}
