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

// SKU boxes suggest the known SKUs of the page's <datalist>. When the page brought only
// the first of many (data-complete="false"), the list is asked again as one types, for
// the SKUs containing the text; an emptied box gets the page's list back. Without this
// script the page's list is all there is (and Add batch still asks before a new SKU).
function suggestSkus() {
  const list = document.querySelector("datalist[data-source]");
  if (!list || list.dataset.complete === "true") return;
  const first = Array.from(list.options, (option) => option.value);
  let timer;
  let pending;
  const show = (skus) => {
    const options = skus.map((sku) => Object.assign(document.createElement("option"), { value: sku }));
    list.replaceChildren(...options);
  };
  const ask = async (text) => {
    pending = new AbortController();
    try {
      const url = `${list.dataset.source}?q=${encodeURIComponent(text)}`;
      const response = await fetch(url, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        signal: pending.signal,
      });
      if (response.ok) show((await response.json()).skus);
    } catch {
      // Superseded by newer text, or the server out of reach: the list stays as it was.
    }
  };
  // On the document: order lines added by "+ Add a line" are SKU boxes too.
  document.addEventListener("input", (event) => {
    const box = event.target;
    if (!(box instanceof HTMLInputElement) || box.getAttribute("list") !== list.id) return;
    clearTimeout(timer);
    if (pending) pending.abort(); // an answer for older text must not replace a newer one
    const text = box.value.trim();
    if (!text) {
      show(first);
      return;
    }
    timer = setTimeout(() => ask(text), 150);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  foldNavigation();
  focusFirstProblem();
  addLines();
  suggestSkus();
});

// The batch import's preview: send the checked rows in slices and show the progress.
// Without this script the form posts every row at once (no progress, same result).
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("import-form");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const rows = JSON.parse(form.elements.rows.value);
    const size = Number(form.dataset.slice) || 200;
    const token = form.elements.csrfmiddlewaretoken.value;
    const button = form.querySelector("button[type=submit]");
    const box = form.querySelector(".import-progress");
    const bar = form.querySelector("progress");
    const status = document.getElementById("import-status");
    button.disabled = true;
    box.hidden = false;
    let imported = 0;
    const refused = [];
    for (let start = 0; start < rows.length; start += size) {
      const body = new FormData();
      body.append("csrfmiddlewaretoken", token);
      body.append("rows", JSON.stringify(rows.slice(start, start + size)));
      let answer;
      try {
        const response = await fetch(form.action || window.location.href, {
          method: "POST",
          body,
          headers: { Accept: "application/json" },
          credentials: "same-origin",
        });
        answer = await response.json();
        if (!response.ok) throw new Error(answer.message || response.statusText);
      } catch (error) {
        status.textContent = `Stopped after ${imported} of ${rows.length} rows: ${error.message}. ` +
          "The rows before were imported; check the file again before importing the rest.";
        return;
      }
      imported += answer.imported;
      refused.push(...answer.refused);
      bar.value = Math.min(start + size, rows.length);
      status.textContent = `${bar.value} of ${rows.length} rows done.`;
    }
    const done = document.createElement("p");
    done.textContent = `${imported} batch${imported === 1 ? "" : "es"} imported.`;
    status.replaceChildren(done);
    for (const r of refused) {
      const line = document.createElement("p");
      line.className = "field-error";
      line.textContent = `Line ${r.line} (${r.ref}) not imported: ${r.message}`;
      status.append(line);
    }
    const link = document.createElement("a");
    link.href = form.dataset.doneUrl;
    link.textContent = "See the stock";
    status.append(link);
  });
});
