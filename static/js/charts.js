/* The dashboard's charts (TradingView Lightweight Charts, vendored): the only client-side drawing.
 *
 * Data comes from the API (/api/chart/<symbol>, /api/chart/equity). Live updates come from what the
 * socket already swapped into the page: after each message the price slot of the charted symbol
 * (#tick-<symbol>, with data-price and data-time) moves the newest candle, and a changed
 * data-stamp on the recent-trades table (a trade opened, closed or failed) redraws the markers and
 * the equity charts. A new candle, a reconnect and a slow timer refetch the indicators.
 */
(function () {
  "use strict";
  var LWC = window.LightweightCharts;
  var priceEl = document.getElementById("price-chart");
  if (!LWC || !priceEl) return;

  var C = {
    bg: "#171e26", text: "#8b98a5", grid: "#1f2933", line: "#26313d", up: "#2ebd85", down: "#f6465d",
    emaShort: "#f0b90b", emaLong: "#3b82f6", band: "#8b5cf6", rsi: "#e6edf3", macd: "#3b82f6", signal: "#f0b90b",
    exit: "#e6edf3"
  };
  var SECONDS = { "1": 60, "3": 180, "5": 300, "15": 900, "30": 1800, "60": 3600, "120": 7200, "240": 14400,
    "360": 21600, "720": 43200, "D": 86400, "W": 604800 };
  var REFRESH_MS = 60000;

  function options(extra) {
    return Object.assign({
      autoSize: true,
      // No logo over the panes' corner: the credit the library's licence asks for is a line under the chart.
      layout: { background: { type: "solid", color: C.bg }, textColor: C.text, attributionLogo: false,
        panes: { separatorColor: C.line, separatorHoverColor: C.line } },
      grid: { vertLines: { color: C.grid }, horzLines: { color: C.grid } },
      rightPriceScale: { borderColor: C.line },
      timeScale: { borderColor: C.line, timeVisible: true, secondsVisible: false },
      localization: { locale: "en-US" }
    }, extra || {});
  }

  function line(chart, color, pane, extra) {
    return chart.addSeries(LWC.LineSeries, Object.assign({
      color: color, lineWidth: 1, priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false
    }, extra || {}), pane);
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(readable(body));
        return body;
      }, function () { throw new Error("the server answered " + r.status + " " + r.statusText); });
    });
  }

  // An API error in words: its detail, or each field's messages ("symbol: ... is not listed"), never raw JSON.
  function readable(body) {
    if (body && typeof body.detail === "string") return body.detail;
    return Object.keys(body || {}).map(function (field) {
      var messages = [].concat(body[field]).join(" ");
      return field === "non_field_errors" ? messages : field + ": " + messages;
    }).join("; ") || "unknown error";
  }

  function say(el, text) {
    var note = el.querySelector(".chart-empty");
    if (!note) {
      note = document.createElement("p");
      note.className = "muted chart-empty";
      el.appendChild(note);
    }
    note.textContent = text;
    note.hidden = !text;
  }

  /* Price chart --------------------------------------------------------------------------------- */
  var state = { symbol: priceEl.dataset.symbol, interval: priceEl.dataset.interval, last: null, fitted: false,
    tick: "", stamp: null, loading: null, again: false };
  var chart = LWC.createChart(priceEl, options());
  var legend = priceEl.parentNode.querySelector(".chart-legend");
  if (legend) legend.insertAdjacentHTML("beforeend", ' · charts: <a href="https://www.tradingview.com/" rel="noopener">' +
    "TradingView</a> Lightweight Charts™");
  var candles = chart.addSeries(LWC.CandlestickSeries, {
    upColor: C.up, downColor: C.down, borderVisible: false, wickUpColor: C.up, wickDownColor: C.down
  });
  var overlays = {
    ema_short: line(chart, C.emaShort, 0),
    ema_long: line(chart, C.emaLong, 0),
    bb_upper: line(chart, C.band, 0),
    bb_middle: line(chart, C.band, 0, { lineStyle: LWC.LineStyle.Dashed }),
    bb_lower: line(chart, C.band, 0)
  };
  var rsi = line(chart, C.rsi, 1, { lastValueVisible: true });
  rsi.createPriceLine({ price: 70, color: C.down, lineWidth: 1, lineStyle: LWC.LineStyle.Dotted, axisLabelVisible: false });
  rsi.createPriceLine({ price: 30, color: C.up, lineWidth: 1, lineStyle: LWC.LineStyle.Dotted, axisLabelVisible: false });
  var histogram = chart.addSeries(LWC.HistogramSeries, { priceLineVisible: false, lastValueVisible: false }, 2);
  var macd = line(chart, C.macd, 2);
  var signal = line(chart, C.signal, 2);
  var markers = LWC.createSeriesMarkers(candles, []);

  function chartUrl() {
    var url = priceEl.dataset.url + "?interval=" + encodeURIComponent(state.interval) + "&limit=300";
    return priceEl.dataset.strategy ? url + "&strategy=" + priceEl.dataset.strategy : url;
  }

  function loadPrice() {
    if (state.loading) { state.again = true; return state.loading; }
    state.loading = getJSON(chartUrl()).then(drawPrice, function (error) {
      say(priceEl, "Chart unavailable: " + error.message);
    }).finally(function () {
      state.loading = null;
      if (state.again) { state.again = false; loadPrice(); }
    });
    return state.loading;
  }

  function drawPrice(data) {
    var bars = data.candles.map(function (c) {
      return { time: c.time, open: +c.open, high: +c.high, low: +c.low, close: +c.close };
    });
    candles.setData(bars);
    Object.keys(overlays).forEach(function (name) { overlays[name].setData(data.series[name]); });
    rsi.setData(data.series.rsi);
    macd.setData(data.series.macd);
    signal.setData(data.series.macd_signal);
    histogram.setData(data.series.macd_hist.map(function (p) {
      return { time: p.time, value: p.value, color: p.value >= 0 ? "rgba(46,189,133,.5)" : "rgba(246,70,93,.5)" };
    }));
    markers.setMarkers(data.markers.map(function (m) {
      var long = m.side === "Buy";
      var entry = m.kind === "entry";
      return {
        time: m.time, text: m.text,
        position: entry === long ? "belowBar" : "aboveBar",
        shape: entry ? (long ? "arrowUp" : "arrowDown") : "circle",
        color: entry ? (long ? C.up : C.down) : C.exit
      };
    }));
    state.last = bars.length ? bars[bars.length - 1] : null;
    say(priceEl, bars.length ? "" : "No candles for " + data.symbol + ".");
    var panes = chart.panes();
    if (panes.length === 3) {
      var small = Math.max(60, Math.round(priceEl.clientHeight * 0.17));
      panes[1].setHeight(small);
      panes[2].setHeight(small);
    }
    if (!state.fitted && bars.length) {
      chart.timeScale().setVisibleLogicalRange({ from: Math.max(0, bars.length - 120), to: bars.length + 3 });
      state.fitted = true;
    }
  }

  /* The charted symbol's price slot moved: extend the newest candle, or start the next one. */
  function followTick() {
    var tick = document.getElementById("tick-" + state.symbol);
    if (!tick || !state.last) return;
    var price = parseFloat(tick.dataset.price);
    var time = Date.parse(tick.dataset.time) / 1000;
    var key = tick.dataset.time + "|" + tick.dataset.price;
    if (!(price > 0) || !isFinite(time) || key === state.tick) return;
    state.tick = key;
    var step = SECONDS[state.interval];
    var last = state.last;
    if (time < last.time) return;
    if (time < last.time + step) {
      last = { time: last.time, open: last.open, high: Math.max(last.high, price), low: Math.min(last.low, price),
        close: price };
    } else if (state.interval !== "W") {
      last = { time: Math.floor(time / step) * step, open: price, high: price, low: price, close: price };
      loadPrice();  // a candle closed: its indicators are due
    } else {
      loadPrice();
      return;
    }
    candles.update(last);
    state.last = last;
  }

  /* Equity and daily PnL ------------------------------------------------------------------------ */
  var equityEl = document.getElementById("equity-chart");
  var dailyEl = document.getElementById("daily-chart");
  var equity = null;
  var daily = null;

  function loadEquity() {
    if (!equityEl) return;
    getJSON(equityEl.dataset.url).then(function (data) {
      if (!data.points.length) return;
      if (!equity) {
        var small = { rightPriceScale: { borderColor: C.line, scaleMargins: { top: 0.1, bottom: 0.1 } },
          handleScroll: false, handleScale: false };
        equity = LWC.createChart(equityEl, options(small)).addSeries(LWC.AreaSeries, {
          lineColor: C.emaLong, topColor: "rgba(59,130,246,.35)", bottomColor: "rgba(59,130,246,0)", lineWidth: 2,
          priceLineVisible: false });
        daily = LWC.createChart(dailyEl, options(Object.assign(small, {
          timeScale: { borderColor: C.line, timeVisible: false } }))).addSeries(LWC.HistogramSeries, {
          priceLineVisible: false });
      }
      equity.setData(data.points.map(function (p) {
        return { time: p.time, value: +(p.equity !== undefined ? p.equity : p.cumulative_pnl) };
      }));
      daily.setData(data.daily.map(function (d) {
        return { time: d.day, value: +d.pnl, color: +d.pnl >= 0 ? C.up : C.down };
      }));
      say(equityEl, "");
      say(dailyEl, "");
    }, function (error) { say(equityEl, "Equity unavailable: " + error.message); });
  }

  /* Wiring -------------------------------------------------------------------------------------- */
  document.body.addEventListener("htmx:wsAfterMessage", function () {
    followTick();
    var table = document.getElementById("recent-trades");
    var stamp = table ? table.dataset.stamp : "";
    if (stamp && stamp !== state.stamp) {
      state.stamp = stamp;
      loadPrice();
      loadEquity();
    }
  });
  document.addEventListener("tradebot:resync", function () { loadPrice(); loadEquity(); });
  var interval = document.getElementById("chart-interval");
  if (interval) interval.addEventListener("change", function () { interval.form.requestSubmit(); });
  setInterval(loadPrice, REFRESH_MS);

  loadPrice();
  loadEquity();
})();
