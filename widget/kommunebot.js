/*
 * Kommunebot chat widget: one script tag, no build step.
 *
 *   <script src="https://example.org/widget/kommunebot.js"
 *           data-server="http://127.0.0.1:5005" data-lang="nn" data-municipality="alver"
 *           data-phone="56 37 50 00"></script>
 *
 * data-municipality: the municipality's slug (municipalities/<slug>.yml); without it the
 * deployment's default municipality answers. data-phone: the municipality's number, given
 * (as a tel: link) when the chat itself cannot answer ("ring kommunen på 56 37 50 00").
 *
 * Talks to Rasa's socket.io channel (session persistence on), keeps the session id and
 * the transcript in sessionStorage so a reload continues the conversation, and renders
 * text, links, buttons, answer sources and handoff states (custom payloads shaped
 * {"data": {"type": ...}} on the server side arrive here as {"type": ...}).
 *
 * Staff messages (handoff payloads with an "id") are confirmed to the server once shown
 * (`kb_ack`, with seen=true when the chat is open and the tab visible); on every
 * (re)connect the server sends again what was not confirmed, and the widget drops what it
 * already has. While waiting for a person the status line shows the place in the queue
 * and a button to leave it (`kb_sync` / `kb_status`).
 *
 * Accessibility (WCAG 2.1 AA): keyboard use throughout, Escape closes and returns focus to
 * the launcher, new messages are announced once through two alternating polite live
 * regions, `lang` is set on every message, and message text is only ever inserted with
 * textContent (never innerHTML), so HTML in bot or user text is shown as text.
 */
(function () {
  "use strict";

  if (window.__kommunebotLoaded) return;
  window.__kommunebotLoaded = true;

  var script = document.currentScript;
  var BASE = script && script.src ? script.src.replace(/[^/]*([?#].*)?$/, "") : "/widget/";
  var SERVER = (script && script.getAttribute("data-server")) || "http://127.0.0.1:5005";
  var MAX_CHARS = 1000; // keep in step with bot/channels/limits.py MAX_MESSAGE_CHARS
  var REPLY_TIMEOUT_MS = 30000;
  var MUNICIPALITY = (script && script.getAttribute("data-municipality")) || "";
  // The municipality's phone number for the widget's own fallback texts ("ring kommunen på ...").
  var PHONE = ((script && script.getAttribute("data-phone")) || "").replace(/[\[\]\n]/g, "").trim();
  var STORE_KEY = "kommunebot:" + SERVER + (MUNICIPALITY ? ":" + MUNICIPALITY : "");
  var MAX_STORED_EVENTS = 300;
  var SYNC_EVERY_MS = 20000; // while with a person: presence and place in the queue

  function normLang(value) {
    value = String(value || "").toLowerCase();
    if (value.indexOf("nb") === 0 || value === "no" || value.indexOf("no-") === 0) return "nb";
    if (value.indexOf("nn") === 0) return "nn";
    return null;
  }

  var UI_LANG = normLang(script && script.getAttribute("data-lang")) ||
    normLang(document.documentElement.lang) || "nn";

  var STRINGS = {
    nn: {
      launcher: "Chat med kommunen",
      title: "Chat med kommunen",
      close: "Lukk chatten",
      transcript: "Samtale",
      privacy: "Du skriv med ein chatbot. Ikkje skriv personnummer eller andre personopplysningar her.",
      greeting: "Hei! Kva lurer du på? Skriv spørsmålet ditt nedanfor.",
      inputLabel: "Skriv spørsmålet ditt",
      inputHint: "Enter sender. Shift + Enter gir ny linje.",
      send: "Send",
      empty: "Skriv eit spørsmål før du sender.",
      tooLong: "Meldinga er for lang. Skriv kortare, høgst " + MAX_CHARS + " teikn.",
      you: "Du skreiv:",
      bot: "Kommunebot:",
      staff: "Frå kommunen:",
      typing: "Kommunebot skriv …",
      connecting: "Koplar til …",
      offline: "Mista kontakten med chatten. Prøver å kople til igjen …",
      online: "Tilkopla igjen.",
      noReply: "Eg fekk ikkje svar. Prøv igjen om litt, eller ring kommunen{phone}.",
      source: "Kjelde:",
      related: "Sjå også:",
      machine: "Denne teksten er maskinomsett frå bokmål.",
      newTab: "(opnar i ny fane)",
      choices: "Svaralternativ",
      unread: "(ny melding)",
      image: "Opne biletet",
      waiting: "Du står i kø for å snakke med ein person frå kommunen.",
      waitingStatus: "Ventar på ein person frå kommunen",
      joined: "Ein person frå kommunen er med i samtalen no.",
      joinedStatus: "Du snakkar med ein person frå kommunen",
      ended: "Samtalen med kommunen er avslutta. Du snakkar med chatboten igjen.",
      caseCreated: "Saka di er registrert.",
      reference: "Referanse:",
      expectedBy: "Du kan vente svar innan",
      answerBy: "Svar innan:",
      replyTo: "Vi svarar til:",
      leaveQueue: "Gå ut av køen",
      endChat: "Avslutt chatten",
      leaveQueueSay: "Eg vil gå ut av køen",
      endChatSay: "Eg vil avslutte chatten",
      first: "Du er først i køen",
      position: "Du er nummer {n} i køen",
      estimate: "om lag {n} min",
      estimateOne: "under eitt minutt",
    },
    nb: {
      launcher: "Chat med kommunen",
      title: "Chat med kommunen",
      close: "Lukk chatten",
      transcript: "Samtale",
      privacy: "Du skriver med en chatbot. Ikke skriv personnummer eller andre personopplysninger her.",
      greeting: "Hei! Hva lurer du på? Skriv spørsmålet ditt nedenfor.",
      inputLabel: "Skriv spørsmålet ditt",
      inputHint: "Enter sender. Shift + Enter gir ny linje.",
      send: "Send",
      empty: "Skriv et spørsmål før du sender.",
      tooLong: "Meldingen er for lang. Skriv kortere, høyst " + MAX_CHARS + " tegn.",
      you: "Du skrev:",
      bot: "Kommunebot:",
      staff: "Fra kommunen:",
      typing: "Kommunebot skriver …",
      connecting: "Kobler til …",
      offline: "Mistet kontakten med chatten. Prøver å koble til igjen …",
      online: "Tilkoblet igjen.",
      noReply: "Jeg fikk ikke svar. Prøv igjen om litt, eller ring kommunen{phone}.",
      source: "Kilde:",
      related: "Se også:",
      machine: "Denne teksten er maskinoversatt fra nynorsk.",
      newTab: "(åpner i ny fane)",
      choices: "Svaralternativer",
      unread: "(ny melding)",
      image: "Åpne bildet",
      waiting: "Du står i kø for å snakke med en person fra kommunen.",
      waitingStatus: "Venter på en person fra kommunen",
      joined: "En person fra kommunen er med i samtalen nå.",
      joinedStatus: "Du snakker med en person fra kommunen",
      ended: "Samtalen med kommunen er avsluttet. Du snakker med chatboten igjen.",
      caseCreated: "Saken din er registrert.",
      reference: "Referanse:",
      expectedBy: "Du kan forvente svar innen",
      answerBy: "Svar innen:",
      replyTo: "Vi svarer til:",
      leaveQueue: "Gå ut av køen",
      endChat: "Avslutt chatten",
      leaveQueueSay: "Jeg vil gå ut av køen",
      endChatSay: "Jeg vil avslutte chatten",
      first: "Du er først i køen",
      position: "Du er nummer {n} i køen",
      estimate: "omtrent {n} min",
      estimateOne: "under ett minutt",
    },
  };

  function t(key, lang) {
    return (STRINGS[lang] || STRINGS[UI_LANG])[key];
  }

  /* " på [56 37 50 00](tel:+4756375000)" when the page gave the number, else "". */
  function phoneText() {
    var digits = PHONE.replace(/[^0-9+]/g, "");
    if (!digits) return "";
    if (digits.charAt(0) !== "+" && digits.length === 8) digits = "+47" + digits;
    return " på [" + PHONE + "](tel:" + digits + ")";
  }

  /* ---------- state kept across reloads (this tab only) ---------- */

  function loadState() {
    try {
      var raw = window.sessionStorage.getItem(STORE_KEY);
      if (raw) {
        var parsed = JSON.parse(raw);
        if (parsed && Array.isArray(parsed.events)) return parsed;
      }
    } catch (e) { /* storage blocked or corrupt: start afresh */ }
    return { sessionId: null, sessionToken: null, open: false, lang: UI_LANG, handoff: null, events: [] };
  }

  var state = loadState();
  state.received = state.received || []; // ids of staff messages shown (drop repeats)
  state.unseen = state.unseen || [];     // shown while the chat was closed or the tab hidden
  state.queue = state.queue || null;     // {position, estimate_minutes} while waiting

  function saveState() {
    if (state.events.length > MAX_STORED_EVENTS) {
      state.events = state.events.slice(state.events.length - MAX_STORED_EVENTS);
    }
    try {
      window.sessionStorage.setItem(STORE_KEY, JSON.stringify(state));
    } catch (e) { /* storage full or blocked: the live conversation still works */ }
  }

  /* ---------- DOM helpers (text only; never innerHTML with message text) ---------- */

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        if (attrs[name] !== null && attrs[name] !== undefined) node.setAttribute(name, attrs[name]);
      });
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function srOnly(text) {
    return el("span", { "class": "kb-sr" }, text);
  }

  function safeUrl(url) {
    try {
      var parsed = new URL(String(url), window.location.href);
      return /^(https?:|mailto:|tel:)$/.test(parsed.protocol) ? parsed.href : null;
    } catch (e) {
      return null;
    }
  }

  function link(url, text, lang) {
    var href = safeUrl(url);
    if (!href) return document.createTextNode(String(text || url));
    var a = el("a", { href: href }, text || url);
    if (/^https?:/.test(href)) {
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      a.appendChild(document.createTextNode(" "));
      a.appendChild(srOnly(t("newTab", lang)));
    }
    return a;
  }

  var LINK_RE = /\[([^\]\n]+)\]\(((?:https?:\/\/|mailto:|tel:)[^\s)]+)\)|((?:https?:\/\/|www\.)[^\s<>"']*[^\s<>"'.,;:!?)\]])/g;

  /* Appends text with line breaks, Markdown links and bare URLs made into links. */
  function appendRichText(parent, text, lang) {
    String(text).split("\n").forEach(function (line, index) {
      if (index > 0) parent.appendChild(el("br"));
      var last = 0;
      line.replace(LINK_RE, function (match, label, mdUrl, bareUrl, offset) {
        if (offset > last) parent.appendChild(document.createTextNode(line.slice(last, offset)));
        if (mdUrl) {
          parent.appendChild(link(mdUrl, label, lang));
        } else {
          parent.appendChild(link(/^www\./.test(bareUrl) ? "https://" + bareUrl : bareUrl, bareUrl, lang));
        }
        last = offset + match.length;
        return match;
      });
      if (last < line.length) parent.appendChild(document.createTextNode(line.slice(last)));
    });
  }

  var DAYS = {
    nn: ["sundag", "måndag", "tysdag", "onsdag", "torsdag", "fredag", "laurdag"],
    nb: ["søndag", "mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag"],
  };
  var MONTHS = ["januar", "februar", "mars", "april", "mai", "juni", "juli", "august",
    "september", "oktober", "november", "desember"];
  var WEEKDAY_INDEX = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

  /* "torsdag 26. november kl. 15.00" in Norwegian time (a full stop between hours and
     minutes, as in the bot's own texts); own names, since browsers may
     lack Nynorsk locale data. */
  function formatTime(iso, lang) {
    if (!iso) return null;
    var date = new Date(iso);
    if (isNaN(date.getTime())) return null;
    var parts = {};
    new Intl.DateTimeFormat("en-US", {
      timeZone: "Europe/Oslo", weekday: "short", day: "numeric", month: "numeric",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    }).formatToParts(date).forEach(function (part) { parts[part.type] = part.value; });
    return DAYS[lang === "nb" ? "nb" : "nn"][WEEKDAY_INDEX[parts.weekday]] + " " + parts.day + ". " +
      MONTHS[Number(parts.month) - 1] + " kl. " + parts.hour + "." + parts.minute;
  }

  /* ---------- build the widget ---------- */

  var ids = { dialog: "kb-dialog", title: "kb-title", input: "kb-input", hint: "kb-hint", error: "kb-error" };

  var root = el("div", { id: "kommunebot", "class": "kb-root", lang: UI_LANG });

  var launcher = el("button", {
    type: "button", "class": "kb-launcher", "aria-expanded": "false", "aria-controls": ids.dialog,
  });
  launcher.innerHTML = '<svg class="kb-icon" aria-hidden="true" focusable="false" viewBox="0 0 24 24" width="24" height="24"><path fill="currentColor" d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg>';
  launcher.appendChild(el("span", null, t("launcher", UI_LANG)));
  var badge = el("span", { "class": "kb-badge" }, " " + t("unread", UI_LANG));
  badge.hidden = true;
  launcher.appendChild(badge);

  var dialog = el("div", { id: ids.dialog, "class": "kb-dialog", role: "dialog", "aria-labelledby": ids.title });
  dialog.hidden = true;

  var header = el("div", { "class": "kb-header" });
  var title = el("h2", { id: ids.title, "class": "kb-title" }, t("title", UI_LANG));
  var closeButton = el("button", { type: "button", "class": "kb-close", "aria-label": t("close", UI_LANG) });
  closeButton.innerHTML = '<svg aria-hidden="true" focusable="false" viewBox="0 0 24 24" width="20" height="20"><path fill="currentColor" d="M6.4 5 5 6.4 10.6 12 5 17.6 6.4 19l5.6-5.6 5.6 5.6 1.4-1.4-5.6-5.6L19 6.4 17.6 5 12 10.6z"/></svg>';
  header.appendChild(title);
  header.appendChild(closeButton);

  var status = el("div", { "class": "kb-status" });
  var statusText = el("p", { "class": "kb-status-text" });
  var statusButton = el("button", { type: "button", "class": "kb-status-action" });
  status.appendChild(statusText);
  status.appendChild(statusButton);
  status.hidden = true;
  statusButton.addEventListener("click", function () {
    // Said in the conversation's written standard, so the bot answers in it too; the
    // server takes these words as "leave" (bot/handoff/flow.py LEAVE_COMMAND).
    var words = t(state.handoff === "waiting" ? "leaveQueueSay" : "endChatSay", state.lang);
    if (state.handoff) sendMessage(words, words);
  });

  var log = el("div", { "class": "kb-log", role: "log", "aria-live": "off", tabindex: "0", "aria-label": t("transcript", UI_LANG) });

  var typing = el("p", { "class": "kb-typing", "aria-hidden": "true" }, t("typing", UI_LANG));
  typing.hidden = true;

  var form = el("form", { "class": "kb-form", novalidate: "" });
  var label = el("label", { "for": ids.input, "class": "kb-label" }, t("inputLabel", UI_LANG));
  var hint = el("p", { id: ids.hint, "class": "kb-hint" }, t("inputHint", UI_LANG));
  var error = el("p", { id: ids.error, "class": "kb-error" });
  error.hidden = true;
  var row = el("div", { "class": "kb-row" });
  var input = el("textarea", {
    id: ids.input, "class": "kb-input", rows: "2", maxlength: String(MAX_CHARS),
    "aria-describedby": ids.hint, autocomplete: "off",
  });
  var sendButton = el("button", { type: "submit", "class": "kb-send" }, t("send", UI_LANG));
  row.appendChild(input);
  row.appendChild(sendButton);
  form.appendChild(label);
  form.appendChild(hint);
  form.appendChild(error);
  form.appendChild(row);

  /* Two alternating polite live regions: each announcement goes into the region that was
     empty, and the other is cleared, so screen readers read every new message exactly once
     (also when the same text comes twice in a row). */
  var liveRegions = [
    el("div", { "class": "kb-sr", "aria-live": "polite", "aria-atomic": "true" }),
    el("div", { "class": "kb-sr", "aria-live": "polite", "aria-atomic": "true" }),
  ];
  var liveIndex = 0;
  var pendingAnnouncement = [];
  var announceTimer = null;

  function announce(text) {
    if (!text) return;
    pendingAnnouncement.push(text);
    if (announceTimer) return;
    // Batch the parts of one bot turn (they arrive a few ms apart) into one announcement.
    announceTimer = window.setTimeout(function () {
      announceTimer = null;
      var message = pendingAnnouncement.join(" ");
      pendingAnnouncement = [];
      liveRegions[liveIndex].textContent = "";
      liveIndex = 1 - liveIndex;
      liveRegions[liveIndex].textContent = message;
    }, 150);
  }

  dialog.appendChild(header);
  dialog.appendChild(status);
  dialog.appendChild(log);
  dialog.appendChild(typing);
  dialog.appendChild(form);
  root.appendChild(launcher);
  root.appendChild(dialog);
  root.appendChild(liveRegions[0]);
  root.appendChild(liveRegions[1]);

  /* ---------- rendering ---------- */

  var turnNodes = []; // messages of the current turn whose lang a later payload may correct

  function scrollToEnd() {
    log.scrollTop = log.scrollHeight;
  }

  function bubble(kind, lang, who) {
    var node = el("div", { "class": "kb-msg kb-" + kind, lang: lang });
    if (who) node.appendChild(srOnly(who + " "));
    return node;
  }

  function setLang(node, lang) {
    node.setAttribute("lang", lang);
  }

  function disableOpenChoices() {
    var groups = log.querySelectorAll(".kb-choices:not(.kb-answered)");
    Array.prototype.forEach.call(groups, function (group) {
      group.classList.add("kb-answered");
      Array.prototype.forEach.call(group.querySelectorAll("button"), function (b) { b.disabled = true; });
    });
  }

  function renderUser(event, live) {
    disableOpenChoices();
    var node = bubble("user", event.lang || state.lang, t("you", event.lang || state.lang));
    appendPlain(node, event.text);
    log.appendChild(node);
    turnNodes = [node];
    if (live) scrollToEnd();
  }

  function appendPlain(node, text) {
    String(text).split("\n").forEach(function (line, index) {
      if (index > 0) node.appendChild(el("br"));
      node.appendChild(document.createTextNode(line));
    });
  }

  function renderChoices(node, replies, lang) {
    var group = el("div", { "class": "kb-choices", role: "group", "aria-label": t("choices", lang) });
    replies.forEach(function (reply) {
      if (!reply || reply.title === undefined) return;
      var button = el("button", { type: "button", "class": "kb-choice" }, reply.title);
      button.addEventListener("click", function () {
        if (button.disabled) return;
        button.classList.add("kb-chosen");
        sendMessage(String(reply.title), reply.payload !== undefined ? String(reply.payload) : String(reply.title));
      });
      group.appendChild(button);
    });
    if (group.childNodes.length) node.appendChild(group);
  }

  function renderBotText(msg, lang, live) {
    var node = bubble("bot", lang, t("bot", lang));
    var spoken = [];
    if (msg.text !== undefined && msg.text !== null) {
      var p = el("p");
      appendRichText(p, msg.text, lang);
      node.appendChild(p);
      spoken.push(String(msg.text));
    }
    if (msg.attachment && msg.attachment.type === "image" && msg.attachment.payload) {
      var p2 = el("p");
      p2.appendChild(link(msg.attachment.payload.src, t("image", lang), lang));
      node.appendChild(p2);
      spoken.push(t("image", lang));
    }
    var replies = msg.quick_replies || msg.buttons;
    if (Array.isArray(replies) && replies.length) {
      renderChoices(node, replies, lang);
      spoken.push(replies.map(function (r) { return r && r.title; }).filter(Boolean).join(", "));
    }
    if (!node.querySelector("p, .kb-choices")) return;
    log.appendChild(node);
    turnNodes.push(node);
    if (live) announce(t("bot", lang) + " " + spoken.join(" "));
  }

  /* What this turn's text messages already show, so the answer payload adds only the rest
     (the assistant may send the source and related pages as text too, for other channels). */
  function shownInTurn() {
    var shown = { links: {}, text: "" };
    turnNodes.forEach(function (node) {
      Array.prototype.forEach.call(node.querySelectorAll("a[href]"), function (a) { shown.links[a.href] = true; });
      shown.text += " " + node.textContent;
    });
    return shown;
  }

  function isShown(shown, url) {
    var href = safeUrl(url);
    return Boolean(href && shown.links[href]);
  }

  function renderAnswer(data, lang, live) {
    var shown = shownInTurn();
    var node = bubble("bot", lang, null);
    node.classList.add("kb-source");
    var spoken = [];
    if (data.url && !isShown(shown, data.url)) {
      var p = el("p");
      p.appendChild(document.createTextNode(t("source", lang) + " "));
      p.appendChild(link(data.url, data.title || data.url, lang));
      node.appendChild(p);
      spoken.push(t("source", lang) + " " + (data.title || data.url));
    }
    if (data.machine_converted && !/maskin(omsett|oversatt)/i.test(shown.text)) {
      node.appendChild(el("p", { "class": "kb-note" }, t("machine", lang)));
      spoken.push(t("machine", lang));
    }
    var relatedItems = (Array.isArray(data.related) ? data.related : []).filter(function (item) {
      return item && item.url && !isShown(shown, item.url);
    });
    if (relatedItems.length) {
      var related = el("div", { "class": "kb-related" });
      related.appendChild(el("p", null, t("related", lang)));
      var list = el("ul");
      relatedItems.forEach(function (item) {
        var li = el("li");
        li.appendChild(link(item.url, item.title || item.url, lang));
        list.appendChild(li);
      });
      related.appendChild(list);
      node.appendChild(related);
    }
    if (!node.childNodes.length) return;
    log.appendChild(node);
    turnNodes.push(node);
    if (live) announce(spoken.join(" "));
  }

  function renderCase(data, lang, live) {
    var node = bubble("notice", lang, null);
    node.classList.add("kb-case");
    var text = String(data.text || "");
    if (data.intro) node.appendChild(el("p", null, String(data.intro)));
    node.appendChild(el("p", { "class": "kb-case-title" }, t("caseCreated", lang)));
    var list = el("dl", { "class": "kb-case-facts" });
    function fact(label, value) {
      if (!value) return;
      list.appendChild(el("dt", null, label));
      list.appendChild(el("dd", null, value));
    }
    fact(t("reference", lang), data.reference);
    fact(t("answerBy", lang), formatTime(data.expected_by, lang));
    fact(t("replyTo", lang), data.contact);
    if (list.childNodes.length) node.appendChild(list);
    // The payload's fields say it all; its text (for other channels and screen readers)
    // is shown only when a field is missing.
    var rest = data.expected_by && data.contact ? (data.note ? [String(data.note)] : []) : text.split("\n");
    rest.forEach(function (line) {
      if (!line) return;
      var p = el("p");
      appendRichText(p, line, lang);
      node.appendChild(p);
    });
    log.appendChild(node);
    turnNodes.push(node);
    if (live) announce(text);
  }

  function renderHandoff(data, lang, live) {
    var stateName = String(data.state || "");
    var lines = [];
    var kind = "notice";
    if (stateName === "case_created" && data.reference) {
      renderCase(data, lang, live);
      return;
    }
    if (stateName === "staff_message") {
      kind = "staff";
      if (data.text) lines.push(String(data.text));
    } else if (data.text) {
      lines.push(String(data.text));
    } else if (stateName === "waiting") {
      lines.push(t("waiting", lang));
    } else if (stateName === "joined") {
      lines.push(t("joined", lang));
    } else if (stateName === "ended") {
      lines.push(t("ended", lang));
    } else if (stateName === "case_created") {
      lines.push(t("caseCreated", lang));
    }
    if (stateName === "case_created" && data.reference && lines.join(" ").indexOf(String(data.reference)) === -1) {
      lines.push(t("reference", lang) + " " + data.reference);
    }
    var when = formatTime(data.expected_by, lang);
    if (when && !data.text) lines.push(t("expectedBy", lang) + " " + when + ".");
    if (!lines.length) return;

    var node = bubble(kind, lang, null);
    if (kind === "notice") node.classList.add("kb-handoff");
    if (kind === "staff") node.appendChild(el("span", { "class": "kb-who" }, t("staff", lang)));
    lines.forEach(function (line) {
      var p = el("p");
      appendRichText(p, line, lang);
      node.appendChild(p);
    });
    log.appendChild(node);
    turnNodes.push(node);
    if (live) announce((kind === "staff" ? t("staff", lang) + " " : "") + lines.join(" "));
  }

  /* The widget's own texts; "{phone}" becomes the municipality's number as a tel: link. */
  function renderNotice(text, lang, live) {
    var node = bubble("notice", lang, null);
    var p = el("p", null);
    text = String(text).replace("{phone}", phoneText());
    appendRichText(p, text, lang);
    node.appendChild(p);
    log.appendChild(node);
    if (live) announce(p.textContent);
  }

  function queueLine(lang) {
    var q = state.queue;
    if (!q || !q.position) return "";
    var line = q.position === 1 ? t("first", lang) : t("position", lang).replace("{n}", q.position);
    if (q.estimate_minutes) {
      line += ", " + (q.estimate_minutes <= 1 ? t("estimateOne", lang)
        : t("estimate", lang).replace("{n}", q.estimate_minutes));
    }
    return line + ".";
  }

  function updateHandoffStatus() {
    var lang = state.lang;
    if (state.handoff === "waiting" || state.handoff === "joined") {
      var waiting = state.handoff === "waiting";
      var text = t(waiting ? "waitingStatus" : "joinedStatus", lang);
      var line = waiting ? queueLine(lang) : "";
      statusText.textContent = line ? text + ". " + line : text;
      statusButton.textContent = t(waiting ? "leaveQueue" : "endChat", lang);
      status.setAttribute("lang", lang);
      status.hidden = false;
    } else {
      status.hidden = true;
      statusText.textContent = "";
      statusButton.textContent = "";
    }
  }

  /* Renders one stored event; `live` is false when the transcript is rebuilt after a reload. */
  function renderEvent(event, live) {
    if (event.kind === "user") {
      renderUser(event, live);
      return;
    }
    if (event.kind === "notice") {
      renderNotice(t(event.key, event.lang), event.lang, live);
      return;
    }
    var msg = event.msg || {};
    var lang = normLang(msg.lang) || event.lang || state.lang;
    var sure = Boolean(normLang(msg.lang));
    if (sure) {
      // The bot answers in the citizen's standard: mark the turn's unsure messages with it.
      turnNodes.forEach(function (node) {
        if (!node.hasAttribute("data-kb-lang-sure")) setLang(node, lang);
      });
    }
    var before = turnNodes.length;
    if (msg.type) {
      if (msg.type === "answer") renderAnswer(msg, lang, live);
      else if (msg.type === "handoff") renderHandoff(msg, lang, live);
      else if (msg.type === "feedback" && (msg.text || msg.buttons)) renderBotText(msg, lang, live);
      // Other custom payloads carry data for other channels: nothing to show.
    } else {
      renderBotText(msg, lang, live);
    }
    if (sure && turnNodes.length > before) turnNodes[turnNodes.length - 1].setAttribute("data-kb-lang-sure", "");
    if (live) scrollToEnd();
  }

  function record(event) {
    state.events.push(event);
    saveState();
    renderEvent(event, true);
  }

  /* ---------- conversation ---------- */

  var socket = null;
  var confirmed = false;
  var outbox = [];
  var replyTimer = null;
  var wasDisconnected = false;

  function stopWaiting() {
    typing.hidden = true;
    if (replyTimer) {
      window.clearTimeout(replyTimer);
      replyTimer = null;
    }
  }

  function startWaiting() {
    stopWaiting();
    if (state.handoff === "waiting" || state.handoff === "joined") return; // a person answers
    typing.hidden = false;
    replyTimer = window.setTimeout(function () {
      typing.hidden = true;
      record({ kind: "notice", key: "noReply", lang: state.lang });
    }, REPLY_TIMEOUT_MS);
  }

  function metadata() {
    var data = { widget_lang: UI_LANG };
    if (MUNICIPALITY) data.municipality = MUNICIPALITY;
    return data;
  }

  function emitUserMessage(payload) {
    socket.emit("user_uttered", {
      message: payload, session_id: state.sessionId, metadata: metadata(),
    });
  }

  function sendMessage(shown, payload) {
    record({ kind: "user", text: shown, lang: state.lang });
    if (confirmed && socket && socket.connected) emitUserMessage(payload);
    else outbox.push(payload);
    startWaiting();
    input.focus();
  }

  function visibleNow() {
    return !dialog.hidden && document.visibilityState !== "hidden";
  }

  function acknowledge(ids, seen) {
    if (!ids.length || !socket || !confirmed) return;
    socket.emit("kb_ack", { session_id: state.sessionId, ids: ids, seen: seen });
  }

  /* Tell the server the staff messages shown while the chat was closed are now seen. */
  function flushSeen() {
    if (!state.unseen.length || !visibleNow()) return;
    var ids = state.unseen;
    state.unseen = [];
    saveState();
    acknowledge(ids, true);
  }

  function onBotMessage(msg) {
    if (!msg || typeof msg !== "object") return;
    var id = typeof msg.id === "number" ? msg.id : null;
    if (id !== null && state.received.indexOf(id) !== -1) {
      acknowledge([id], visibleNow()); // sent again after a reconnect: we have it already
      return;
    }
    stopWaiting();
    if (normLang(msg.lang)) state.lang = normLang(msg.lang);
    if (msg.type === "handoff") {
      var s = String(msg.state || "");
      if (s === "waiting" || s === "joined") state.handoff = s;
      else if (s === "ended" || s === "case_created" || s === "closing") state.handoff = null;
      if (s === "waiting" || s === "queue") {
        state.queue = msg.position ? { position: msg.position, estimate_minutes: msg.estimate_minutes } : null;
      }
      if (s !== "waiting" && s !== "queue") state.queue = null;
      updateHandoffStatus();
      syncLater();
    }
    if (id !== null) {
      state.received.push(id);
      if (state.received.length > 500) state.received = state.received.slice(-500);
      if (!visibleNow()) state.unseen.push(id);
    }
    record({ kind: "bot", msg: msg, lang: state.lang });
    if (id !== null) acknowledge([id], visibleNow());
    if (dialog.hidden) badge.hidden = false; // e.g. a staff reply while the chat is closed
  }

  /* The server's answer to kb_sync: where the live chat stands now. */
  function onStatus(data) {
    if (!data || typeof data !== "object") return;
    if (data.state === "waiting" || data.state === "joined") {
      state.handoff = data.state;
      state.queue = data.state === "waiting" && data.position ?
        { position: data.position, estimate_minutes: data.estimate_minutes } : null;
    } else if (state.handoff) {
      state.handoff = null; // ended while we were away (the ending message comes too)
      state.queue = null;
    }
    saveState();
    updateHandoffStatus();
    syncLater();
  }

  var syncTimer = null;
  function syncLater() {
    if (syncTimer) window.clearTimeout(syncTimer);
    syncTimer = null;
    if (state.handoff !== "waiting" && state.handoff !== "joined") return;
    syncTimer = window.setTimeout(function () {
      syncTimer = null;
      if (socket && confirmed) socket.emit("kb_sync", { session_id: state.sessionId });
      else syncLater();
    }, SYNC_EVERY_MS);
  }

  var ioClient = null; // our socket.io client, not a different version the page may use

  function connect() {
    if (socket) return;
    if (!ioClient) {
      loadSocketIo(connect);
      return;
    }
    socket = ioClient(SERVER, { transports: ["websocket", "polling"], reconnectionDelayMax: 10000 });
    socket.on("connect", function () {
      confirmed = false;
      // The token proves the session is ours; without it the server starts a new one.
      socket.emit("session_request", { session_token: state.sessionToken || null });
    });
    socket.on("session_confirm", function (sessionId) {
      var id = sessionId && typeof sessionId === "object" ? sessionId.session_id : sessionId;
      if (id && String(id) !== state.sessionId) state.handoff = null; // a new conversation
      if (id) state.sessionId = String(id);
      if (sessionId && typeof sessionId === "object" && sessionId.session_token) {
        state.sessionToken = String(sessionId.session_token);
      }
      saveState();
      confirmed = true;
      if (wasDisconnected) {
        wasDisconnected = false;
        renderNotice(t("online", UI_LANG), UI_LANG, true);
      }
      while (outbox.length) emitUserMessage(outbox.shift());
      flushSeen();
    });
    socket.on("bot_uttered", onBotMessage);
    socket.on("kb_status", onStatus);
    socket.on("disconnect", function () {
      confirmed = false;
      if (!wasDisconnected) {
        wasDisconnected = true;
        renderNotice(t("offline", UI_LANG), UI_LANG, true);
      }
    });
  }

  var socketIoLoading = false;
  function loadSocketIo(done) {
    if (socketIoLoading) return;
    socketIoLoading = true;
    var pagesIo = window.io;
    var tag = document.createElement("script");
    tag.src = BASE + "vendor/socket.io.min.js";
    tag.onload = function () {
      socketIoLoading = false;
      ioClient = window.io;
      if (pagesIo !== undefined) window.io = pagesIo; // leave the page's own copy in place
      done();
    };
    tag.onerror = function () {
      socketIoLoading = false;
      renderNotice(t("offline", UI_LANG), UI_LANG, true);
    };
    document.head.appendChild(tag);
  }

  /* ---------- open, close, keyboard ---------- */

  var narrow = window.matchMedia ? window.matchMedia("(max-width: 30em), (max-height: 31.25em)") : null;

  function open() {
    badge.hidden = true;
    dialog.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    root.classList.add("kb-open");
    state.open = true;
    saveState();
    connect();
    scrollToEnd();
    input.focus();
    flushSeen();
  }

  document.addEventListener("visibilitychange", flushSeen);

  function close() {
    dialog.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    root.classList.remove("kb-open");
    state.open = false;
    saveState();
    launcher.focus();
  }

  launcher.addEventListener("click", function () {
    if (dialog.hidden) open();
    else close();
  });
  closeButton.addEventListener("click", close);

  root.addEventListener("keydown", function (event) {
    if ((event.key === "Escape" || event.key === "Esc") && !dialog.hidden) {
      event.preventDefault();
      close();
      return;
    }
    // Full-screen on small screens: keep Tab inside the dialog, the page is covered.
    if (event.key === "Tab" && narrow && narrow.matches) {
      var focusable = Array.prototype.filter.call(
        dialog.querySelectorAll("button, [href], textarea, [tabindex='0']"),
        function (node) { return !node.disabled && node.offsetParent !== null; }
      );
      if (!focusable.length) return;
      var first = focusable[0];
      var last = focusable[focusable.length - 1];
      if (event.shiftKey && document.activeElement === first) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && document.activeElement === last) {
        event.preventDefault();
        first.focus();
      }
    }
  });

  function showError(key) {
    if (!key) {
      error.hidden = true;
      error.textContent = "";
      input.removeAttribute("aria-invalid");
      input.setAttribute("aria-describedby", ids.hint);
      return;
    }
    error.textContent = t(key, UI_LANG);
    error.hidden = false;
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", ids.error + " " + ids.hint);
    announce(t(key, UI_LANG));
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) {
      showError("empty");
      input.focus();
      return;
    }
    if (text.length > MAX_CHARS) {
      showError("tooLong");
      input.focus();
      return;
    }
    showError(null);
    input.value = "";
    sendMessage(text, text);
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (typeof form.requestSubmit === "function") form.requestSubmit();
      else form.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });

  /* ---------- start ---------- */

  function mount() {
    var css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = BASE + "kommunebot.css";
    // The transcript only scrolls once its box has its size: after a reload, show the
    // newest message (not the oldest) when the style sheet has arrived.
    css.addEventListener("load", function () {
      if (!dialog.hidden) scrollToEnd();
    });
    document.head.appendChild(css);
    document.body.appendChild(root);

    if (!state.events.length) {
      state.events.push({ kind: "notice", key: "privacy", lang: UI_LANG });
      state.events.push({ kind: "notice", key: "greeting", lang: UI_LANG });
      saveState();
    }
    state.events.forEach(function (event) { renderEvent(event, false); });
    // Buttons are answered once the citizen has written after them; the last turn's stay open.
    updateHandoffStatus();
    syncLater();
    if (state.open) {
      dialog.hidden = false;
      launcher.setAttribute("aria-expanded", "true");
      root.classList.add("kb-open");
      connect();
      scrollToEnd();
    } else if (state.sessionId) {
      connect(); // keep receiving staff replies while the dialog is closed
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
  else mount();
})();
