/*
 * Staff portal, made for live chat: the pages update themselves from server-sent events
 * (/staff/api/events), actions go through the JSON API without reloading the page, and
 * focus goes where the work is (the reply box after taking a chat, the status after
 * closing). Without this script every form still works by posting and coming back.
 *
 * Announcements: two polite live regions taken in turn (the same text is read again);
 * new chats and citizen messages also show in the title; a sound is off by default.
 */
(function () {
  "use strict";

  var body = document.body;
  var CSRF = body.getAttribute("data-csrf") || "";
  var PAGE = body.getAttribute("data-page") || "";
  var REF = body.getAttribute("data-ref") || "";
  var TITLE = document.title;

  /* ---------- announcements, title, sound ---------- */

  var regions = Array.prototype.slice.call(document.querySelectorAll("[data-announcer]"));
  var regionIndex = 0;
  function announce(text) {
    if (!text || !regions.length) return;
    regions[regionIndex].textContent = "";
    regionIndex = (regionIndex + 1) % regions.length;
    regions[regionIndex].textContent = text;
  }

  var unread = 0;
  function setTitle(count, prefix) {
    document.title = (count ? "(" + count + ") " : "") + (prefix || "") + TITLE;
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && PAGE === "item") {
      unread = 0;
      setTitle(0);
    }
  });

  var SOUND_KEY = "kb-staff-sound";
  function soundOn() {
    try { return window.localStorage.getItem(SOUND_KEY) === "on"; } catch (e) { return false; }
  }
  function beep() {
    if (!soundOn()) return;
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      var ctx = new Ctx();
      var osc = ctx.createOscillator();
      var gain = ctx.createGain();
      osc.frequency.value = 660;
      gain.gain.value = 0.08;
      osc.connect(gain);
      gain.connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 0.2);
    } catch (e) { /* no sound available */ }
  }
  var soundButton = document.querySelector("[data-sound]");
  if (soundButton) {
    var showSound = function () {
      var on = soundOn();
      soundButton.setAttribute("aria-pressed", on ? "true" : "false");
      soundButton.textContent = "Lyd ved ny chat: " + (on ? "på" : "av");
    };
    soundButton.hidden = false;
    showSound();
    soundButton.addEventListener("click", function () {
      try { window.localStorage.setItem(SOUND_KEY, soundOn() ? "off" : "on"); } catch (e) { /* ignore */ }
      showSound();
    });
  }

  /* ---------- talking to the server ---------- */

  function request(method, url, data) {
    var options = { method: method, credentials: "same-origin", headers: { "X-CSRF-Token": CSRF } };
    if (data !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(data);
    }
    return fetch(url, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        return { ok: response.ok, status: response.status, data: json };
      });
    }, function () {
      return { ok: false, status: 0, data: { error: "Fekk ikkje kontakt med portalen. Sjekk nettet og prøv igjen." } };
    });
  }

  function listen(onChange) {
    if (!window.EventSource) return;
    var source = new EventSource("/staff/api/events");
    source.addEventListener("change", function (event) {
      var refs = [];
      try { refs = JSON.parse(event.data).refs || []; } catch (e) { /* ignore */ }
      onChange(refs);
    });
  }

  function html(node, markup) {
    // Markup comes from the portal's own templates (escaped by Jinja2 on the server).
    node.innerHTML = markup;
  }

  /* ---------- the queue ---------- */

  function queuePage() {
    var lists = document.getElementById("queue-lists");
    var known = null;
    function refresh() {
      return request("GET", "/staff/queue/live").then(function (result) {
        if (!result.ok) return;
        var focused = document.activeElement && lists.contains(document.activeElement) ?
          document.activeElement.getAttribute("href") : null;
        html(lists, result.data.html);
        if (focused) {
          var again = lists.querySelector('a[href="' + focused + '"]');
          if (again) again.focus();
        }
        var waiting = result.data.waiting || [];
        setTitle(waiting.length);
        if (known !== null) {
          var fresh = waiting.filter(function (w) { return known.indexOf(w.ref) === -1; });
          if (fresh.length) {
            announce(fresh.length === 1 ? "Ny chat i køen: " + fresh[0].ref + "."
              : fresh.length + " nye chattar i køen.");
            beep();
          }
        }
        known = waiting.map(function (w) { return w.ref; });
      });
    }
    refresh();
    listen(refresh);
  }

  /* ---------- a chat or a case ---------- */

  function itemPage() {
    var transcript = document.getElementById("transcript");
    var controls = document.getElementById("controls");
    var statusBox = document.getElementById("item-status");
    var facts = document.getElementById("facts");
    var feedback = document.getElementById("feedback");
    var lastStatus = null;
    var lastMarkup = {};

    /* Replace a part of the page only when the server's version changed, and keep focus
       on it if it had focus (a screen reader user keeps their place). */
    function update(node, key, markup) {
      if (lastMarkup[key] === markup) return;
      lastMarkup[key] = markup;
      var hadFocus = node.contains(document.activeElement);
      html(node, markup);
      if (hadFocus) focusStatus();
    }

    function scrollToNewest(force) {
      var nearEnd = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 80;
      if (force || nearEnd) transcript.scrollTop = transcript.scrollHeight;
      var last = transcript.lastElementChild;
      if (force && last && transcript.scrollHeight <= transcript.clientHeight + 1) {
        // the page scrolls, not the box: keep the newest message and the reply box in view
        var reply = document.getElementById("reply");
        (reply || last).scrollIntoView({ block: "nearest" });
      }
    }

    function say(text, isError) {
      feedback.textContent = "";
      if (!text) return;
      var p = document.createElement("p");
      p.className = isError ? "error" : "notice";
      p.setAttribute("role", isError ? "alert" : "status");
      p.textContent = text;
      feedback.appendChild(p);
    }

    function mergeTranscript(items) {
      var added = [];
      var empty = transcript.querySelector(".empty");
      if (empty && items.length) empty.remove();
      items.forEach(function (item) {
        var existing = transcript.querySelector('[data-key="' + item.key + '"]');
        if (existing) {
          // only the delivery state of a line, or the contacts put back in it, change;
          // leave the others alone
          if (existing.getAttribute("data-version") !== (item.version || "")) existing.outerHTML = item.html;
          return;
        }
        transcript.insertAdjacentHTML("beforeend", item.html);
        added.push(item);
      });
      return added;
    }

    function refresh(first) {
      return request("GET", "/staff/cases/" + encodeURIComponent(REF) + "/live").then(function (result) {
        if (!result.ok) return;
        var data = result.data;
        update(statusBox, "status", data.status_html);
        update(facts, "facts", data.facts_html);
        var added = mergeTranscript(data.items || []);
        if (!first) {
          added.forEach(function (item) {
            if (item.who === "citizen") {
              announce("Innbyggjaren skreiv: " + item.text);
              if (document.visibilityState === "hidden") { unread += 1; setTitle(unread); }
              beep();
            }
          });
          if (data.status_text && lastStatus !== null && data.status_text !== lastStatus) announce(data.status_text);
        }
        lastStatus = data.status_text || "";
        if (controls.getAttribute("data-key") !== data.controls_key) {
          var box = document.getElementById("reply");
          var draft = box ? box.value : "";
          var hadFocus = box && document.activeElement === box;
          html(controls, data.controls_html);
          controls.setAttribute("data-key", data.controls_key);
          wire();
          var again = document.getElementById("reply");
          if (again && draft) again.value = draft;
          if (again && hadFocus) again.focus();
        }
        if (added.length || first) scrollToNewest(first);
      });
    }

    function apiPath(action) {
      var kind = body.getAttribute("data-kind") === "live" ? "chats" : "cases";
      var ref = encodeURIComponent(REF);
      if (action === "claim") return "/staff/api/" + kind + "/" + ref + "/claim";
      if (action === "reply") return "/staff/api/chats/" + ref + "/messages";
      if (action === "transfer") return "/staff/api/chats/" + ref + "/transfer";
      if (action === "close") return "/staff/api/" + kind + "/" + ref + "/close";
      if (action === "answer") return "/staff/api/cases/" + ref + "/reply";
      if (action === "answered") return "/staff/cases/" + ref + "/answered";
      return null;
    }

    function focusStatus() {
      var line = statusBox.querySelector(".status-line");
      if (line) {
        line.setAttribute("tabindex", "-1");
        line.focus();
      }
    }

    function submit(form) {
      var action = form.getAttribute("data-action");
      var data;
      if (action === "reply" || action === "answer" || action === "answered") {
        var box = form.querySelector("textarea");
        if (!box.value.trim()) {
          say("Skriv eit svar før du sender.", true);
          box.focus();
          return;
        }
        data = { text: box.value };
      } else if (action === "transfer") {
        data = { to: form.querySelector("select").value };
      }
      var buttons = form.querySelectorAll("button");
      Array.prototype.forEach.call(buttons, function (b) { b.disabled = true; });
      request("POST", apiPath(action), data).then(function (result) {
        Array.prototype.forEach.call(buttons, function (b) { b.disabled = false; });
        if (!result.ok) {
          say(result.data.error || "Det gjekk ikkje. Prøv igjen.", true);
          refresh();
          return;
        }
        if (action === "reply") {
          form.querySelector("textarea").value = "";
          say("");
          return refresh().then(function () {
            var box = document.getElementById("reply");
            if (box) box.focus();
          });
        }
        var notices = {
          claim: "Du har teke " + (body.getAttribute("data-kind") === "live" ? "chatten" : "saka") + ".",
          transfer: "Overført til " + (data && data.to) + ".",
          close: "Avslutta. Innbyggjaren har fått beskjed.",
          answer: "Svaret er sendt på e-post, og saka er lukka.",
          answered: "Saka er merkt som svart og lukka.",
        };
        say(notices[action]);
        return refresh().then(function () {
          if (action === "claim") {
            var box = document.getElementById("reply");
            if (box) box.focus();
          } else {
            focusStatus();
          }
        });
      });
    }

    function wire() {
      Array.prototype.forEach.call(controls.querySelectorAll("form[data-action]"), function (form) {
        var action = form.getAttribute("data-action");
        form.addEventListener("submit", function (event) {
          event.preventDefault();
          if (action === "close") {
            var confirmBox = document.getElementById("confirm-close");
            if (confirmBox.hidden) { // first press: ask
              confirmBox.hidden = false;
              document.getElementById("close").hidden = true;
              confirmBox.focus();
              return;
            }
          }
          submit(form);
        });
        if (action === "reply") {
          var box = form.querySelector("textarea");
          box.addEventListener("keydown", function (event) {
            if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
              event.preventDefault();
              submit(form);
            }
          });
        }
      });
      var no = document.getElementById("confirm-no");
      if (no) {
        no.addEventListener("click", function () {
          document.getElementById("confirm-close").hidden = true;
          var close = document.getElementById("close");
          close.hidden = false;
          close.focus();
        });
      }
      var yes = document.getElementById("confirm-yes");
      if (yes) {
        yes.addEventListener("click", function (event) {
          event.preventDefault();
          submit(yes.form);
        });
      }
    }

    wire();
    refresh(true).then(function () {
      // Focus where the work is: the reply box when the chat is yours, else "take it".
      if (window.location.hash === "#reply" || !document.activeElement || document.activeElement === body) {
        var target = document.getElementById("reply") || document.getElementById("claim");
        if (target) target.focus({ preventScroll: false });
      }
    });
    listen(function (refs) {
      if (!refs.length || refs.indexOf(REF) !== -1) refresh();
    });
  }

  if (PAGE === "queue") queuePage();
  if (PAGE === "item") itemPage();
})();
