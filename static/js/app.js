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

// A page's live region (read_views.live_page) refreshes itself while the page is open:
// every few seconds, while the tab is visible, the page's own URL is asked for the region
// alone with the ETag of what is shown. 304: nothing changed, nothing is touched. 200:
// the region's content is replaced in one go (no reload, no flicker). A region holding
// the keyboard focus is left alone until the focus leaves it (replacing it would drop
// the focus). The note above the page says how old the numbers are; a polite status
// says "updated" only when they changed, at most once a minute.
const LIVE_EVERY_MS = 5000;
const LIVE_ANNOUNCE_EVERY_MS = 60000;

function liveRegion() {
  const region = document.querySelector("[data-live]");
  const note = document.querySelector("[data-live-note]");
  if (!region || !note) return;
  const age = note.querySelector("[data-live-age]");
  const announce = note.querySelector("[data-live-announce]");
  let etag = region.dataset.liveEtag;
  let shownAt = Date.now();
  let lastAnnounced = 0;
  let problem = "";
  let stopped = false;
  let asking = false;

  function fragmentUrl() {
    const url = new URL(window.location.href);
    url.hash = "";
    url.searchParams.set("fragment", region.dataset.live);
    return url;
  }

  function seconds(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min`;
  }

  function showAge() {
    const since = Date.now() - shownAt;
    if (stopped) {
      age.textContent = "Not updating any more: reload the page.";
    } else if (problem) {
      age.textContent = `Updated ${seconds(since)} ago; ${problem}, trying again.`;
    } else {
      age.textContent = since < 5000 ? "Updated just now" : `Updated ${seconds(since)} ago`;
    }
    note.classList.toggle("failing", Boolean(problem));
  }

  function swap(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    region.replaceChildren(template.content);
    if (Date.now() - lastAnnounced >= LIVE_ANNOUNCE_EVERY_MS) {
      lastAnnounced = Date.now();
      announce.textContent = "";
      announce.textContent = "The numbers on this page were updated.";
    }
  }

  async function refresh() {
    if (stopped || asking || document.hidden) return;
    asking = true;
    try {
      const response = await fetch(fragmentUrl(), {
        headers: { "If-None-Match": etag, Accept: "text/html" },
        cache: "no-store",
        credentials: "same-origin",
      });
      if (response.status === 304) {
        shownAt = Date.now();
        problem = "";
      } else if (response.ok && response.headers.get("X-Live-Region") === region.dataset.live) {
        const html = await response.text();
        if (!region.contains(document.activeElement)) {
          swap(html);
          etag = response.headers.get("ETag") || etag;
          shownAt = Date.now();
        }
        problem = "";
      } else if (response.status >= 500) {
        problem = "the server did not answer";
      } else {
        // Logged out, or the page is gone: a plain page now, until it is reloaded.
        problem = "stopped";
        stopped = true;
      }
    } catch {
      problem = "no connection";
    } finally {
      asking = false;
      showAge();
    }
  }

  note.hidden = false;
  showAge();
  window.setInterval(refresh, LIVE_EVERY_MS);
  window.setInterval(showAge, 1000);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refresh();
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
  liveRegion();
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
