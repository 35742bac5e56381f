// reelbot's console: small plain JavaScript, no framework, no build step, nothing from elsewhere.
"use strict";
(function () {
  const csrf = () => document.querySelector('meta[name="csrf"]').content;

  // Light or dark: the system's choice unless the person picked one here.
  const root = document.documentElement;
  const saved = localStorage.getItem("theme");
  if (saved) root.dataset.theme = saved;
  document.addEventListener("DOMContentLoaded", () => {
    const button = document.getElementById("theme");
    if (button) button.addEventListener("click", () => {
      const dark = root.dataset.theme ? root.dataset.theme === "dark"
        : matchMedia("(prefers-color-scheme: dark)").matches;
      root.dataset.theme = dark ? "light" : "dark";
      localStorage.setItem("theme", root.dataset.theme);
    });
    makeForm();
    followJob();
    followStatus();
    telegramReturn();
  });

  // Make: drop, paste or choose a picture; send without leaving the page, so nothing typed is lost.
  function makeForm() {
    const form = document.getElementById("make");
    if (!form) return;
    const input = document.getElementById("image");
    const drop = document.getElementById("drop");
    const preview = document.getElementById("image-preview");
    const error = document.getElementById("make-error");
    const show = () => {
      const file = input.files && input.files[0];
      if (file) { preview.src = URL.createObjectURL(file); preview.hidden = false; }
      else { preview.hidden = true; preview.removeAttribute("src"); }
    };
    const take = (files) => {
      const picture = Array.from(files || []).find((f) => f.type.startsWith("image/"));
      if (!picture) return;
      const list = new DataTransfer();
      list.items.add(picture);
      input.files = list.files;
      show();
    };
    input.addEventListener("change", show);
    ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("over"); }));
    ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, () => drop.classList.remove("over")));
    drop.addEventListener("drop", (e) => { e.preventDefault(); take(e.dataTransfer.files); });
    document.addEventListener("paste", (e) => take(e.clipboardData && e.clipboardData.files));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const button = document.getElementById("generate");
      button.disabled = true;
      error.hidden = true;
      try {
        const response = await fetch(form.action, { method: "POST", body: new FormData(form),
          headers: { "Accept": "application/json", "X-CSRF-Token": csrf() } });
        const answer = await response.json().catch(() => ({}));
        if (response.ok && answer.url) { location.assign(answer.url); return; }
        error.textContent = answer.error || response.statusText;
        error.hidden = false;
      } catch (problem) {
        error.textContent = String(problem);
        error.hidden = false;
      }
      button.disabled = false;
    });
  }

  // A job's page: its place in the queue and its progress, pushed by the server until it ends.
  function followJob() {
    const job = document.getElementById("job");
    if (!job || ["succeeded", "failed", "cancelled"].includes(job.dataset.state)) return;
    const line = document.getElementById("line");
    const bar = document.getElementById("progress");
    const events = new EventSource("/jobs/" + job.dataset.id + "/events");
    events.onmessage = (message) => {
      const update = JSON.parse(message.data);
      if (update.ended) { events.close(); location.reload(); return; }
      job.dataset.state = update.state;
      if (update.line) line.textContent = update.line;
      if (update.total) { bar.max = update.total; bar.value = update.step; }
      else if (update.state === "queued") bar.removeAttribute("value");
    };
  }

  // The admin's status: the server sends the refreshed view every few seconds.
  function followStatus() {
    const status = document.getElementById("status");
    if (!status || !status.dataset.live) return;
    const events = new EventSource(status.dataset.live);
    events.onmessage = (message) => { status.innerHTML = JSON.parse(message.data).html; };
  }

  // Telegram sends the signed-in account back in the address's fragment, which only the page can read.
  function telegramReturn() {
    const marker = "#tgAuthResult=";
    if (location.pathname === "/auth/telegram" && location.hash.startsWith(marker)) {
      location.replace("/auth/telegram?result=" + encodeURIComponent(location.hash.slice(marker.length)));
    }
  }
})();
