// Progressive enhancement only: every page works without this script.

// On a phone the main navigation folds behind its "Menu" button (the stylesheet hides
// the links of a nav marked "foldable" under 700 px); without the script they wrap.
function foldNavigation() {
  const nav = document.querySelector(".nav");
  const toggle = nav && nav.querySelector(".nav-toggle");
  if (!toggle) return;
  nav.classList.add("foldable");
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("open", open);
  });
}

// A form sent back with problems: focus goes to the first one, so a keyboard or screen
// reader user lands on it instead of at the top of the page (the form's own errors come
// first in the page, then each field Django marked aria-invalid).
function focusFirstProblem() {
  const problem = document.querySelector('.form-errors, [aria-invalid="true"]');
  if (problem) problem.focus();
}

// "Add a line" on the order form clones the formset's empty form and moves focus to
// the new line's first box.
function addLines() {
  const button = document.querySelector("[data-add-line]");
  const template = document.getElementById("empty-line");
  const total = document.querySelector('input[name="lines-TOTAL_FORMS"]');
  const max = document.querySelector('input[name="lines-MAX_NUM_FORMS"]');
  const lines = document.getElementById("lines");
  if (!button || !template || !total || !lines) return;
  button.hidden = false;
  button.addEventListener("click", () => {
    const index = Number(total.value);
    if (max && index >= Number(max.value)) return;
    const html = template.innerHTML
      .replaceAll("__prefix__", String(index))
      .replaceAll("__number__", String(index + 1));
    lines.insertAdjacentHTML("beforeend", html);
    total.value = String(index + 1);
    lines.lastElementChild.querySelector("input").focus();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  foldNavigation();
  focusFirstProblem();
  addLines();
});
