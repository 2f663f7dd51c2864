/* Tenure's charts, defined once: a chart of the page model (tenure/dashboard/model.py, as
 * tenure.dashboard.draw.chart_json writes it) turned into Apache ECharts options. Used by the
 * dashboard's pages and by the offline report alike; every figure[data-chart] is drawn when
 * the document is ready. SVG renderer, ECharts' aria description, no animation. */
(function (global) {
  "use strict";

  function formatter(chart) {
    var locale = chart.locale || "en";
    var options = { maximumFractionDigits: 2 };
    if (chart.unit === "money") options = { style: "currency", currency: chart.currency || "USD" };
    else if (chart.unit === "share") options = { style: "percent", maximumFractionDigits: 1 };
    else if (chart.unit === "count") options = { maximumFractionDigits: 0 };
    var nf = new Intl.NumberFormat(locale, options);
    return function (value) {
      if (value === null || value === undefined || value === "-" || isNaN(value)) return chart.unknown || "unknown";
      var text = nf.format(value);
      return chart.unit === "ratio" ? text + ":1" : text;
    };
  }

  function axisSeries(chart, type, extra) {
    return chart.series.map(function (s) {
      var out = { name: s.name, type: type, data: s.values, connectNulls: false };
      for (var k in extra) out[k] = extra[k];
      return out;
    });
  }

  function cartesian(chart, fmt, series) {
    return {
      tooltip: { trigger: "axis", valueFormatter: fmt },
      legend: { show: chart.series.length > 1, bottom: 0, type: "scroll" },
      grid: { left: 8, right: 16, top: 16, bottom: chart.series.length > 1 ? 36 : 8, containLabel: true },
      xAxis: { type: "category", data: chart.x },
      yAxis: { type: "value", axisLabel: { formatter: fmt } },
      series: series
    };
  }

  function heatmap(chart, fmt) {
    var data = [], min = Infinity, max = -Infinity;
    chart.series.forEach(function (s, row) {
      s.values.forEach(function (v, col) {
        if (v === null || v === undefined) return;
        data.push([col, row, v]);
        if (v < min) min = v;
        if (v > max) max = v;
      });
    });
    if (!isFinite(min)) { min = 0; max = 1; }
    return {
      tooltip: { position: "top", valueFormatter: fmt },
      grid: { left: 8, right: 16, top: 8, bottom: 56, containLabel: true },
      xAxis: { type: "category", data: chart.x, splitArea: { show: true } },
      yAxis: { type: "category", data: chart.series.map(function (s) { return s.name; }), inverse: true },
      visualMap: { min: min, max: max, calculable: false, orient: "horizontal", left: "center", bottom: 0,
                   itemHeight: 120, formatter: fmt, inRange: { color: ["#eef3fb", "#1f4fa3"] } },
      series: [{ type: "heatmap", data: data, label: { show: chart.x.length <= 14, formatter: function (p) { return fmt(p.value[2]); }, fontSize: 10 } }]
    };
  }

  function funnel(chart, fmt) {
    var s = chart.series[0] || { name: "", values: [] };
    return {
      tooltip: { trigger: "item", valueFormatter: fmt },
      series: [{ type: "funnel", name: s.name, sort: "none", left: "10%", width: "80%", minSize: "8%",
                 label: { show: true, position: "inside", formatter: function (p) { return p.name + ": " + fmt(p.value); } },
                 data: chart.x.map(function (x, i) { return { name: String(x), value: s.values[i] }; }) }]
    };
  }

  /** A forecast fan: series[0] the median (a line), then (low, high) pairs of intervals,
   * widest first, drawn as shaded bands (a transparent low, the high - low stacked on it),
   * and an unpaired last series (a target) drawn dashed. The tooltip shows the real values. */
  function fan(chart, fmt) {
    var s = chart.series, pairs = Math.floor((s.length - 1) / 2), series = [];
    var diff = function (lo, hi) {
      return lo.values.map(function (v, i) {
        var h = hi.values[i];
        return v === null || h === null || v === undefined || h === undefined ? null : h - v;
      });
    };
    for (var p = 0; p < pairs; p++) {
      var lo = s[1 + 2 * p], hi = s[2 + 2 * p], stack = "band" + p;
      series.push({ name: lo.name, type: "line", data: lo.values, stack: stack, symbol: "none",
                    lineStyle: { opacity: 0 }, silent: true });
      series.push({ name: hi.name, type: "line", data: diff(lo, hi), stack: stack, symbol: "none",
                    lineStyle: { opacity: 0 }, areaStyle: { color: "#1f4fa3", opacity: 0.15 + 0.15 * p },
                    silent: true });
    }
    series.push({ name: s[0].name, type: "line", data: s[0].values, symbol: "none",
                  lineStyle: { width: 2, color: "#1f4fa3" }, itemStyle: { color: "#1f4fa3" } });
    if (s.length > 1 + 2 * pairs) {
      var t = s[s.length - 1];
      series.push({ name: t.name, type: "line", data: t.values, symbol: "none",
                    lineStyle: { type: "dashed", color: "#a3222b" }, itemStyle: { color: "#a3222b" } });
    }
    var opt = cartesian(chart, fmt, series);
    opt.legend.data = [s[0].name].concat(s.length > 1 + 2 * pairs ? [s[s.length - 1].name] : []);
    opt.tooltip = {
      trigger: "axis",
      formatter: function (items) {
        var i = items.length ? items[0].dataIndex : 0;
        return [String(chart.x[i])].concat(s.map(function (one) {
          return one.name + ": " + fmt(one.values[i]);
        })).join("<br>");
      }
    };
    opt.yAxis.scale = true;
    return opt;
  }

  /** The ECharts option of one chart of the page model. */
  function option(chart) {
    var fmt = formatter(chart), opt;
    if (chart.kind === "heatmap") opt = heatmap(chart, fmt);
    else if (chart.kind === "funnel") opt = funnel(chart, fmt);
    else if (chart.kind === "fan") opt = fan(chart, fmt);
    else if (chart.kind === "line") opt = cartesian(chart, fmt, axisSeries(chart, "line", { showSymbol: chart.x.length < 40 }));
    else if (chart.kind === "stacked_bar") opt = cartesian(chart, fmt, axisSeries(chart, "bar", { stack: "total" }));
    else if (chart.kind === "histogram") opt = cartesian(chart, fmt, axisSeries(chart, "bar", { barCategoryGap: "2%" }));
    else opt = cartesian(chart, fmt, axisSeries(chart, "bar", {}));
    opt.animation = false;
    opt.aria = { enabled: true, label: { enabled: true } };
    opt.color = ["#1f4fa3", "#c2571a", "#2e7d4f", "#7b3fa0", "#a3222b", "#4a5360", "#b08900"];
    return opt;
  }

  /** Draw ``chart`` into the element ``el`` (SVG); returns the ECharts instance. */
  function draw(el, chart) {
    var rows = chart.kind === "heatmap" ? chart.series.length : 0;
    if (rows > 8) el.style.height = (rows * 26 + 110) + "px";
    var instance = global.echarts.init(el, null, { renderer: "svg" });
    instance.setOption(option(chart));
    el.setAttribute("data-drawn", "true");
    return instance;
  }

  /** Draw every figure[data-chart] under ``root``. */
  function drawAll(root) {
    var drawn = [];
    (root || document).querySelectorAll("figure[data-chart]").forEach(function (figure) {
      var chart = JSON.parse(figure.getAttribute("data-chart"));
      drawn.push(draw(figure.querySelector(".chart-canvas"), chart));
    });
    global.addEventListener("resize", function () { drawn.forEach(function (c) { c.resize(); }); });
    return drawn.length;
  }

  global.TenureCharts = { option: option, draw: draw, drawAll: drawAll };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  else drawAll(document);
})(window);
