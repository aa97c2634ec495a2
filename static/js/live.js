/* The dashboard socket's state, the only thing htmx's ws extension leaves to the page.
 *
 * - A badge says "live" while the socket is open and "reconnecting…" while it is not; meanwhile the
 *   cards are dimmed, because what they show may be out of date.
 * - The extension reconnects by itself only after abnormal closes (1006, 1011-1013); a clean close
 *   (a restarted server says 1000/1001) is retried here, with the same kind of jittered backoff.
 * - After a reconnect every card refetches itself: events sent while the socket was down are lost.
 * - Toasts leave after their fade-out.
 */
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live) return;
  var badge = document.getElementById("socket-state");
  var RETRIED_BY_EXTENSION = [1006, 1011, 1012, 1013];
  var TOAST_SECONDS = 7.6;
  var opened = false;
  var retries = 0;

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

  live.addEventListener("htmx:wsConnecting", function () {
    if (!opened) show("connecting", "connecting…");
  });

  live.addEventListener("htmx:wsOpen", function () {
    retries = 0;
    show("live", "live");
    if (opened) {
      live.querySelectorAll("[data-card]").forEach(function (card) { htmx.trigger(card, "refresh"); });
      document.dispatchEvent(new CustomEvent("tradebot:resync"));
    }
    opened = true;
  });

  live.addEventListener("htmx:wsClose", function (event) {
    show("stale", "reconnecting…");
    var code = event.detail.event.code;
    if (RETRIED_BY_EXTENSION.indexOf(code) === -1 && document.body.contains(live)) {
      setTimeout(function () { event.detail.socketWrapper.reconnect(); }, backoff(retries++));
    }
  });

  live.addEventListener("htmx:wsAfterMessage", function () {
    live.querySelectorAll("#toasts .toast:not([data-timed])").forEach(function (toast) {
      toast.setAttribute("data-timed", "");
      setTimeout(function () { toast.remove(); }, TOAST_SECONDS * 1000);
    });
  });
})();
