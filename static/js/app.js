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
