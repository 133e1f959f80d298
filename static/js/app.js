// Progressive enhancement only: every page works without this script.
// "Add a line" on the order form clones the formset's empty form.
document.addEventListener("DOMContentLoaded", () => {
  const button = document.querySelector("[data-add-line]");
  const template = document.getElementById("empty-line");
  const total = document.querySelector('input[name="lines-TOTAL_FORMS"]');
  const max = document.querySelector('input[name="lines-MAX_NUM_FORMS"]');
  if (!button || !template || !total) return;
  button.hidden = false;
  button.addEventListener("click", () => {
    const index = Number(total.value);
    if (max && index >= Number(max.value)) return;
    const html = template.innerHTML.replaceAll("__prefix__", String(index));
    document.getElementById("lines").insertAdjacentHTML("beforeend", html);
    total.value = String(index + 1);
  });
});
