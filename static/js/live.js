/* The live socket's state, the only thing htmx's ws extension leaves to a page (dashboard, trades, strategies).
 *
 * - A badge says "live" while the socket is open and "reconnecting…" while it is not; meanwhile the
 *   page is dimmed, because what it shows may be out of date.
 * - The extension reconnects by itself only after abnormal closes (1006, 1011-1013); a clean close
 *   (a restarted server says 1000/1001) is retried here, with the same kind of jittered backoff.
 * - After a reconnect every card refetches itself: events sent while the socket was down are lost.
 * - Pages other than the dashboard get a signal per event (#live-signal, data-event "trade", "cycle" ...):
 *   every element with that word in its data-live refetches itself, the same request its slow poll makes.
 * - A session that ended (logout in any tab: the server closes the socket with 4401; or expiry: the socket is
 *   refused) sends the page to the login page once, with ?next= this page. Card refreshes do the same through
 *   the server's HX-Redirect answer, so a login form is never swapped into a card.
 * - Toasts leave after their fade-out.
 */
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live) return;
  var badge = document.getElementById("socket-state");
  var RETRIED_BY_EXTENSION = [1006, 1011, 1012, 1013];
  var SESSION_ENDED = 4401;
  var TOAST_SECONDS = 7.6;
  var opened = false;
  var retries = 0;
  var leaving = false;
  var lastSignal = null;

  // Jittered exponential backoff from half a second up to 30 s (the extension's default starts at up to 1 s
  // and doubles to 64 s): a restarted server is back in a few seconds, and so should the page be.
  function backoff(attempt) {
    return Math.min(30000, 500 * Math.pow(2, attempt)) * (0.5 + Math.random() / 2);
  }
  htmx.config.wsReconnectDelay = backoff;

  function show(state, text) {
    badge.className = "socket " + state;
    badge.textContent = text;
    live.classList.toggle("stale", state !== "live");
  }

  function toLogin(url) {
    if (leaving) return;
    leaving = true;
    show("stale", "signed out");
    window.location.assign(url || "/accounts/login/?next=" + encodeURIComponent(location.pathname + location.search));
  }

  // Is the session still there? A fragment request answers 401 with the login URL when it is not.
  function checkSession() {
    return fetch(location.pathname + location.search, {
      method: "HEAD", credentials: "same-origin", headers: { "HX-Request": "true", "HX-Current-URL": location.href }
    }).then(function (response) {
      if (response.status === 401) { toLogin(response.headers.get("HX-Redirect")); return false; }
      return true;
    }, function () { return true; });  // the server is down, not the session: keep retrying
  }

  function refresh(selector) {
    document.querySelectorAll(selector).forEach(function (element) { htmx.trigger(element, "refresh"); });
  }

  live.addEventListener("htmx:wsConnecting", function () {
    if (!opened) show("connecting", "connecting…");
  });

  live.addEventListener("htmx:wsOpen", function () {
    retries = 0;
    show("live", "live");
    if (opened) {
      refresh("[data-card], [data-live]");
      document.dispatchEvent(new CustomEvent("tradebot:resync"));
    }
    opened = true;
  });

  live.addEventListener("htmx:wsClose", function (event) {
    var code = event.detail.event.code;
    if (code === SESSION_ENDED) {  // the server's own login URL, as every other way out uses
      show("stale", "signed out");
      checkSession().then(function (signedIn) { if (signedIn) toLogin(); });
      return;
    }
    show("stale", "reconnecting…");
    checkSession().then(function (signedIn) {
      if (signedIn && RETRIED_BY_EXTENSION.indexOf(code) === -1 && document.body.contains(live)) {
        setTimeout(function () { event.detail.socketWrapper.reconnect(); }, backoff(retries++));
      }
    });
  });

  live.addEventListener("htmx:wsAfterMessage", function () {
    var signal = document.getElementById("live-signal");
    if (signal && signal.dataset.seq && signal.dataset.seq !== lastSignal) {
      lastSignal = signal.dataset.seq;
      refresh("[data-live~='" + signal.dataset.event + "']");
    }
    live.querySelectorAll("#toasts .toast:not([data-timed])").forEach(function (toast) {
      toast.setAttribute("data-timed", "");
      setTimeout(function () { toast.remove(); }, TOAST_SECONDS * 1000);
    });
  });

  // A write refused (403: a missing permission, the live switch; 400: a form's field errors; 429: the order rate
  // limit) answers with the
  // fragment a success would have given, saying why, marked X-Refusal (core.security.refuse_page, the order
  // form): swap it in rather than leave the click unanswered.
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if ((xhr.status === 400 || xhr.status === 403 || xhr.status === 429) && xhr.getResponseHeader("X-Refusal")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // htmx would swap nothing for a 401 without HX-Redirect; say so rather than leave a card silently stale.
  document.body.addEventListener("htmx:responseError", function (event) {
    if (event.detail.xhr.status === 401) toLogin(event.detail.xhr.getResponseHeader("HX-Redirect"));
  });
})();
